/**
 * Operator requests between daemons over the authenticated peer mesh: a
 * node asks a peer for its own view (`clustd status`), its history, or to
 * carry out a command (switchover, drain, undrain from any node), and the
 * pause flag is gossiped. These messages share the peer channel with the
 * election but never reach the election core: the daemon hands every
 * `ops_*` message here first. Every request has a timeout and the pending
 * ones are bounded (OPS_PENDING_MAX); a malformed message is logged and
 * dropped.
 */

import { Logger } from "../log.ts";

/** Requests awaiting a peer's answer at once. */
export const OPS_PENDING_MAX = 128;

/** Requests a node serves for its peers. */
export type OpsRequest =
  | { op: "status" }
  | { op: "history" }
  | { op: "command"; command: Record<string, unknown> };

/** What the relay needs from the daemon. */
export interface OpsRelayOptions {
  /** Sends on the peer channel; false when not connected. */
  send(peer: string, message: Record<string, unknown>): boolean;
  /** Answers a peer's request (never rejects: errors are answers too). */
  serve(peer: string, request: OpsRequest): Promise<Record<string, unknown>>;
  /** A peer's pause state (unvalidated). */
  onPause(peer: string, state: unknown): void;
}

interface Pending {
  resolve(answer: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  peer: string;
}

function parseRequest(value: unknown): OpsRequest | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r["op"] === "status" || r["op"] === "history") return { op: r["op"] };
  const command = r["command"];
  if (
    r["op"] === "command" && typeof command === "object" && command !== null
  ) {
    return { op: "command", command: command as Record<string, unknown> };
  }
  return null;
}

/** Request/response and gossip of operator messages over the mesh. */
export class OpsRelay {
  readonly #options: OpsRelayOptions;
  readonly #log = new Logger("ops");
  readonly #pending = new Map<string, Pending>();
  #sequence = 0;

  constructor(options: OpsRelayOptions) {
    this.#options = options;
  }

  /** Asks `peer`; rejects with a sentence when it is not connected or silent. */
  ask(
    peer: string,
    request: OpsRequest,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    if (this.#pending.size >= OPS_PENDING_MAX) {
      return Promise.reject(new Error("too many operator requests pending"));
    }
    const id = `ops-${++this.#sequence}`;
    const answer = Promise.withResolvers<Record<string, unknown>>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      answer.reject(new Error(`no answer from ${peer} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#pending.set(id, { ...answer, timer, peer });
    if (!this.#options.send(peer, { type: "ops_req", id, ...request })) {
      clearTimeout(timer);
      this.#pending.delete(id);
      answer.reject(new Error(`${peer} is not connected`));
    }
    return answer.promise;
  }

  /** Sends the pause state to one peer (gossip; no answer expected). */
  sendPause(peer: string, state: Record<string, unknown>): boolean {
    return this.#options.send(peer, { type: "ops_pause", state });
  }

  /** Takes a mesh message; false when it is not an operator message. */
  handle(peer: string, message: unknown): boolean {
    if (typeof message !== "object" || message === null) return false;
    const r = message as Record<string, unknown>;
    const type = r["type"];
    if (typeof type !== "string" || !type.startsWith("ops_")) return false;
    const id = r["id"];
    if (type === "ops_pause") {
      this.#options.onPause(peer, r["state"]);
    } else if (type === "ops_res" && typeof id === "string") {
      this.#answer(peer, id, r);
    } else if (type === "ops_req" && typeof id === "string") {
      this.#serve(peer, id, r);
    } else {
      this.#log.warn("dropped malformed operator message", { peer, type });
    }
    return true;
  }

  #answer(peer: string, id: string, message: Record<string, unknown>): void {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.peer !== peer) {
      this.#log.debug("late or unknown operator answer", { peer, id });
      return;
    }
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  #serve(peer: string, id: string, message: Record<string, unknown>): void {
    const request = parseRequest(message);
    if (request === null) {
      this.#options.send(peer, {
        type: "ops_res",
        id,
        ok: false,
        message: "malformed operator request",
      });
      return;
    }
    this.#options.serve(peer, request).then(
      (answer) => this.#options.send(peer, { ...answer, type: "ops_res", id }),
      (error: unknown) =>
        this.#options.send(peer, {
          type: "ops_res",
          id,
          ok: false,
          message: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  /** Fails every pending request (the daemon stops). */
  close(): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error("the daemon is stopping"));
    }
    this.#pending.clear();
  }
}
