/**
 * The operator surface of one daemon: what `clustd status`, `history`,
 * `switchover`, `drain`, `undrain`, `pause`, `resume` and `reload` ask over
 * the control channel. Commands run from any member: a switchover goes to
 * the master, a drain or undrain to the node it names, over the
 * authenticated peer mesh (ops_relay.ts), and every refusal says why. The
 * pause flag is persisted (pause_store.ts) and gossiped to every peer. Never
 * decides an election: commands and the pause flag go to the core.
 */

import { formatIssue, loadConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { Command } from "../election/types.ts";
import type { StatusSnapshot } from "../http/handler.ts";
import { Logger } from "../log.ts";
import { HistoryLog, type Transition } from "./history.ts";
import { OpsRelay, type OpsRequest } from "./ops_relay.ts";
import { PauseSync } from "./_pause_sync.ts";
import { memberView } from "./member_view.ts";

/** Local commands awaiting the core's reply at once. */
const LOCAL_PENDING_MAX = 256;
/** Longest wait for the core's reply (a handover runs the demote hooks first). */
const LOCAL_REPLY_TIMEOUT_MS = 60_000;
/** Longest wait for a forwarded command (below the CLI's 15 s). */
const FORWARD_TIMEOUT_MS = 12_000;
/** Longest wait for a peer's view or history. */
const ASK_TIMEOUT_MS = 2000;

/** What the operator needs from the daemon. */
export interface OperatorHost {
  config(): Config;
  snapshot(): StatusSnapshot;
  /** Feeds a command to the core; its reply comes back through `reply`. */
  command(requestId: string, command: Command): void;
  send(peer: string, message: Record<string, unknown>): boolean;
  /** Gives the core the cluster's pause flag. */
  setPaused(paused: boolean): void;
  reload(next: Config): Promise<{ ok: boolean; message: string }>;
}

/** The answer to a command. */
export interface Outcome {
  ok: boolean;
  message: string;
}

type Answer = Record<string, unknown>;

/** Operator requests of one daemon (control channel and peers). */
export class Operator {
  readonly relay: OpsRelay;
  readonly history: HistoryLog;
  readonly #host: OperatorHost;
  readonly #log = new Logger("control");
  readonly #replies = new Map<string, (outcome: Outcome) => void>();
  readonly #pause: PauseSync;
  #sequence = 0;

  constructor(host: OperatorHost) {
    this.#host = host;
    const dir = host.config().stateDir;
    this.history = new HistoryLog(dir);
    this.relay = new OpsRelay({
      send: (peer, message) => host.send(peer, message),
      serve: (peer, request) => this.#serve(peer, request),
      onPause: (peer, state) => this.#pause.onPeer(peer, state),
    });
    this.#pause = new PauseSync({
      selfId: () => host.config().node.id,
      stateDir: dir,
      peers: () => host.config().cluster.peers.map((p) => p.id),
      send: (peer, state) => this.relay.sendPause(peer, state),
      apply: (paused) => host.setPaused(paused),
    });
  }

  /** The persisted pause flag (given to the core at start). */
  paused(): boolean {
    return this.#pause.paused();
  }

  /** Routes the core's reply; false when the request was not ours. */
  reply(requestId: string, ok: boolean, message: string): boolean {
    const resolve = this.#replies.get(requestId);
    if (resolve === undefined) return false;
    this.#replies.delete(requestId);
    resolve({ ok, message });
    return true;
  }

  /** A peer connected: it learns our pause flag (it may have missed it). */
  onPeerUp(peer: string): void {
    this.#pause.onPeerUp(peer);
  }

  /** Appends one transition of this node to the history. */
  record(entry: Omit<Transition, "time" | "node">): void {
    this.history.record({
      time: new Date().toISOString(),
      node: this.#host.config().node.id,
      ...entry,
    });
  }

  /** Answers a control-channel request; undefined when not an operator one. */
  control(record: Answer): Promise<Answer> | undefined {
    const id = record["id"];
    switch (record["type"]) {
      case "command":
        return this.#command(record["command"], false).then((outcome) => ({
          type: "reply",
          ...outcome,
        }));
      case "member_status":
      case "history":
        return this.#ask(record["type"], record["node"]).then((answer) => ({
          ...answer,
          type: record["type"],
          id,
          node: record["node"],
        }));
      case "pause":
        return Promise.resolve({
          type: "reply",
          ...this.#pause.set(record["paused"] === true),
        });
      case "reload":
        return this.reloadFile().then((result) => ({
          type: "reload",
          ...result,
        }));
      default:
        return undefined;
    }
  }

  /** This node's view, or a peer's asked over the mesh. */
  async #ask(
    kind: "member_status" | "history",
    node: unknown,
  ): Promise<Answer> {
    const self = this.#host.config().node.id;
    const target = typeof node === "string" ? node : self;
    if (target === self) return this.#own(kind);
    if (!this.#isPeer(target)) {
      return { ok: false, message: `"${target}" is not a member` };
    }
    try {
      const op = kind === "member_status" ? "status" : "history";
      return await this.relay.ask(target, { op }, ASK_TIMEOUT_MS);
    } catch (error: unknown) {
      return { ok: false, message: errorText(error) };
    }
  }

  #own(kind: "member_status" | "history"): Answer {
    if (kind === "history") {
      return { ok: true, entries: this.history.wireEntries() };
    }
    return { ok: true, view: memberView(this.#host.snapshot()) };
  }

  #isPeer(id: string): boolean {
    return this.#host.config().cluster.peers.some((p) => p.id === id);
  }

  /** Serves a peer's request (commands forwarded to us are never forwarded on). */
  async #serve(peer: string, request: OpsRequest): Promise<Answer> {
    if (request.op === "status") return this.#own("member_status");
    if (request.op === "history") return this.#own("history");
    this.#log.info("forwarded command", {
      from: peer,
      command: String(request.command["type"]),
    });
    return { ...await this.#command(request.command, true) };
  }

  async #command(value: unknown, forwarded: boolean): Promise<Outcome> {
    const parsed = parseCommand(value);
    if (typeof parsed === "string") return { ok: false, message: parsed };
    const self = this.#host.config().node.id;
    if (parsed.type === "switchover") {
      return await this.#switchover(parsed.to ?? null, forwarded);
    }
    const node = parsed.node ?? self;
    if (node === self) return await this.#runLocal({ type: parsed.type });
    if (forwarded) {
      return { ok: false, message: `${self} is not "${node}"` };
    }
    return await this.#forward(node, { type: parsed.type, node });
  }

  async #switchover(to: string | null, forwarded: boolean): Promise<Outcome> {
    const status = this.#host.snapshot();
    const self = status.id;
    if (to !== null && to === status.master) {
      return { ok: false, message: `"${to}" is already master` };
    }
    if (status.role !== "master") {
      if (forwarded || status.master === null) {
        return { ok: false, message: noMasterReason(status) };
      }
      const command = to === null ? {} : { to };
      return await this.#forward(status.master, {
        type: "switchover",
        ...command,
      });
    }
    if (to !== null && to !== self) {
      const problem = await this.#targetProblem(to);
      if (problem !== null) return { ok: false, message: problem };
    }
    const outcome = await this.#runLocal(
      to === null ? { type: "switchover" } : { type: "switchover", to },
    );
    if (outcome.ok || !outcome.message.startsWith("no eligible node")) {
      return outcome;
    }
    return { ok: false, message: `${outcome.message}: ${await this.#why()}` };
  }

  /** Why `to` cannot take over, asked of `to` itself; null when it can. */
  async #targetProblem(to: string): Promise<string | null> {
    const member = this.#host.config().cluster.peers.find((p) => p.id === to);
    if (member === undefined) {
      // A member the election knows without a mesh link (the etcd backend
      // lists members from etcd): the election checks it and says why not.
      const known = this.#host.snapshot().members.some((m) => m.id === to);
      return known ? null : `"${to}" is not a member`;
    }
    if (member.role === "witness") {
      return `"${to}" is a witness: it votes but never becomes master`;
    }
    // Its priority is its own (advertised), so ask it.
    const answer = await this.#ask("member_status", to);
    if (answer["ok"] !== true) {
      return `"${to}" cannot take over: ${String(answer["message"])}`;
    }
    const view = answer["view"] as {
      eligible?: boolean;
      ineligible?: string[];
      priority?: number;
    };
    if (view.priority === 0) {
      return `"${to}" has priority 0: it never becomes master`;
    }
    if (view.eligible === true) return null;
    return `"${to}" is not eligible: ${(view.ineligible ?? []).join("; ")}`;
  }

  /** Each other voter's reason for not taking over, for a refusal. */
  async #why(): Promise<string> {
    const peers = this.#host.config().cluster.peers;
    const reasons = await Promise.all(peers.map(async (peer) => {
      if (peer.role === "witness") return `${peer.id}: witness`;
      const answer = await this.#ask("member_status", peer.id);
      if (answer["ok"] !== true) return `${peer.id}: ${answer["message"]}`;
      const view = answer["view"] as { ineligible?: string[] };
      const list = view.ineligible ?? [];
      return `${peer.id}: ${list.length === 0 ? "eligible" : list.join(", ")}`;
    }));
    return reasons.join("; ");
  }

  async #forward(node: string, command: Answer): Promise<Outcome> {
    if (!this.#isPeer(node)) {
      const known = this.#host.snapshot().members.some((m) => m.id === node);
      return {
        ok: false,
        message: known
          ? `"${node}" has no mesh link to this node: run the command there (--node URL)`
          : `"${node}" is not a member`,
      };
    }
    const self = this.#host.config().node.id;
    try {
      const answer = await this.relay.ask(
        node,
        { op: "command", command },
        FORWARD_TIMEOUT_MS,
      );
      return {
        ok: answer["ok"] === true,
        message: `${node}: ${String(answer["message"] ?? "")}`,
      };
    } catch (error: unknown) {
      const text = errorText(error);
      // A timeout does not undo what the node may be doing (a handover
      // waiting for hooks): say where to look.
      const hint = text.startsWith("no answer")
        ? "; it may still be carrying it out: see `clustd status`"
        : "";
      return {
        ok: false,
        message: `cannot forward to ${node} from ${self}: ${text}${hint}`,
      };
    }
  }

  /** Feeds a command to the local core and waits for its reply. */
  #runLocal(command: Command): Promise<Outcome> {
    if (this.#replies.size >= LOCAL_PENDING_MAX) {
      return Promise.resolve({
        ok: false,
        message: "too many pending commands",
      });
    }
    const requestId = `op-${++this.#sequence}`;
    const done = Promise.withResolvers<Outcome>();
    const timer = setTimeout(() => {
      this.reply(requestId, false, "no answer from the election core");
    }, LOCAL_REPLY_TIMEOUT_MS);
    this.#replies.set(requestId, (outcome) => {
      clearTimeout(timer);
      done.resolve(outcome);
    });
    this.#log.info("command", { request: requestId, command: command.type });
    this.#host.command(requestId, command);
    return done.promise;
  }

  /** Re-reads the config file and applies it (SIGHUP and `clustd reload`). */
  async reloadFile(): Promise<Outcome & { errors: string[] }> {
    const path = this.#host.config().path;
    const result = await loadConfig(path, { programs: true });
    if (!result.ok) {
      const errors = result.errors.map(formatIssue);
      return {
        ok: false,
        message: `${path} has errors; nothing changed`,
        errors,
      };
    }
    const outcome = await this.#host.reload(result.config);
    return { ...outcome, errors: outcome.ok ? [] : [outcome.message] };
  }

  /** Fails what is pending (the daemon stops). */
  close(): void {
    this.relay.close();
    for (const id of [...this.#replies.keys()]) {
      this.reply(id, false, "the daemon is stopping");
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why there is no master to switch over from, as precisely as we know. */
function noMasterReason(status: StatusSnapshot): string {
  if (status.master === null) {
    const seen = status.members.filter((m) => m.connected).length;
    if (!status.quorum) {
      return `no quorum: ${status.id} sees ${seen} of ${status.members.length} members`;
    }
    return status.paused
      ? "there is no master and the cluster is paused: `clustd resume` first"
      : "there is no master right now (an election is under way)";
  }
  return `${status.id} is not master (master is ${status.master})`;
}

type ParsedCommand =
  | { type: "switchover"; to?: string }
  | { type: "drain" | "undrain"; node?: string };

function parseCommand(value: unknown): ParsedCommand | string {
  if (typeof value !== "object" || value === null) {
    return "command must be an object";
  }
  const record = value as Record<string, unknown>;
  const type = record["type"];
  const target = type === "switchover" ? record["to"] : record["node"];
  if (target !== undefined && target !== null && typeof target !== "string") {
    return `${String(type)}: the node must be a string`;
  }
  const named = typeof target === "string" ? target : undefined;
  if (type === "switchover") {
    return named === undefined ? { type } : { type, to: named };
  }
  if (type === "drain" || type === "undrain") {
    return named === undefined ? { type } : { type, node: named };
  }
  return `unknown command ${JSON.stringify(type)}`;
}
