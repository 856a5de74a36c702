/**
 * The daemon's event loop: feeds the election core with time, mesh events,
 * check results and commands, and carries out its effects in order (persist
 * before send, drivers on promote/demote). Decides nothing the core could.
 * Must never act as master on its own: only the core's effects do that.
 */

import type { Config } from "../config/types.ts";
import { EtcdElectionAdapter } from "../backend/etcd_adapter.ts";
import { Election } from "../election/election.ts";
import type {
  Command,
  Effect,
  Input,
  PromoteReason,
  RoleReason,
} from "../election/types.ts";
import { parseMessage } from "../election/types.ts";
import { handleProbe } from "../http/handler.ts";
import { type ClientInfo, HttpServer, type Upgrade } from "../http/server.ts";
import { httpServerFamilies } from "../http/server_metrics.ts";
import { type MetricFamily, renderMetrics } from "../http/metrics.ts";
import { configureLogging, Logger, readDebugEnv } from "../log.ts";
import { Mesh, type MeshEvent } from "../mesh/mesh.ts";
import { monotonicMs } from "./clock.ts";
import { ControlServer } from "./control.ts";
import { CheckHost } from "./check_host.ts";
import { Sandbox } from "./sandbox.ts";
import { findKillProgram } from "./_workers.ts";
import { DriverHost, type RoleEvent } from "./driver_host.ts";
import { checkFamilies, driverFamilies, meshFamilies } from "./_families.ts";
import {
  buildSnapshot,
  type DaemonCounters,
  daemonFamilies,
} from "./snapshot.ts";
import { ensureStateDir, loadState, saveState } from "./state_store.ts";
import { describeUpdate, planReload, prepareReload } from "./reload.ts";
import { type DaemonKeys, deriveDaemonKeys } from "./_keys.ts";
import { runStartDemote, startEvent } from "./_start_demote.ts";
import { electionOptions, meshOptions } from "./_options.ts";
import { Operator } from "./operator.ts";
import type { StatusSnapshot } from "../http/handler.ts";

/** Longest the daemon waits for a handover on SIGTERM before exiting anyway. */
const SHUTDOWN_GRACE_MAX_MS = 60_000;

/** Permissions the daemon gives up once it runs (DESIGN §4). */
const DROPPED_PERMISSIONS = ["env", "sys"] as const;

/** Longest wait for external drivers' demote acks before a handover. */
const EXTERNAL_ACK_WAIT_MS = 5000;

/** Options of one daemon instance. */
export interface DaemonOptions {
  version: string;
  /** Drop the permissions it no longer needs after start (off in tests). */
  revokePermissions?: boolean;
}

/** One running clustd node. */
export class Daemon {
  #config: Config;
  readonly #options: DaemonOptions;
  readonly #log = new Logger("daemon");
  readonly #electionLog = new Logger("election");
  /** $DEBUG, read before `env` is dropped; reloads combine it with log.debug. */
  readonly #debugEnv = readDebugEnv();
  /** The mesh core, or the etcd election behind the same interface. */
  #election!: Election | EtcdElectionAdapter;
  #mesh!: Mesh;
  #drivers!: DriverHost;
  #checks!: CheckHost;
  #control!: ControlServer;
  #operator!: Operator;
  #server: HttpServer | null = null;
  #keys: DaemonKeys = { webhookKey: new Uint8Array(), driverKeys: new Map() };
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastNowMs = 0;
  #startMs = 0;
  #stopping = false;
  /** Set once a stopping master has handed over: peers' messages are ignored. */
  #closing = false;
  #masterSinceWallMs: number | null = null;
  #demoteDoneTerm = -1;
  /** The reload in progress (resolved when none). */
  #reloads: Promise<void> = Promise.resolve();
  /** Why the current (or last) promotion happened, for drivers a reload rebuilds. */
  #promoteReason: PromoteReason = "elected";
  #counters: DaemonCounters = {
    elections: 0,
    promotions: 0,
    demotions: 0,
    events: new Map(),
  };

  constructor(config: Config, options: DaemonOptions) {
    this.#config = config;
    this.#options = options;
  }

  /** The key of a configured external driver id; undefined for others. */
  #driverKey(id: string): Uint8Array | undefined {
    return this.#keys.driverKeys.get(id);
  }

  /** Starts everything; resolves once the port listens. Throws on startup faults. */
  async start(): Promise<void> {
    const config = this.#config;
    ensureStateDir(config.stateDir);
    const persisted = loadState(config.stateDir);
    this.#startMs = monotonicMs();
    this.#lastNowMs = this.#startMs;
    this.#keys = await deriveDaemonKeys(config);
    // One shared Worker for every driver and check (src/daemon/sandbox.ts).
    const sandbox = Sandbox.forConfig(config, findKillProgram());
    this.#drivers = new DriverHost(config.drivers, {
      nodeId: config.node.id,
      webhookKey: this.#keys.webhookKey,
      sandbox,
    });
    this.#election = config.cluster.backend === "etcd"
      ? new EtcdElectionAdapter(config, {
        startMs: this.#startMs,
        prePromote: this.#drivers.hasPrePromote(),
        now: () => this.#now(),
        onEffects: (effects) => {
          for (const effect of effects) this.#apply(effect);
          this.#schedule();
        },
      })
      : new Election(electionOptions(config, {
        persisted,
        startMs: this.#startMs,
        prePromote: this.#drivers.hasPrePromote(),
      }));
    this.#operator = new Operator({
      config: () => this.#config,
      snapshot: () => this.snapshot(),
      command: (requestId, command) => this.command(requestId, command),
      send: (peer, message) => this.#mesh?.send(peer, message) ?? false,
      setPaused: (paused) => {
        this.#step({ kind: "pause", nowMs: this.#now(), paused });
        this.#schedule();
      },
      reload: (next) => this.reload(next),
    });
    if (this.#operator.paused()) {
      this.#step({ kind: "pause", nowMs: this.#now(), paused: true });
    }
    await this.#drivers.start();
    const bootEvent = this.#startDemote(persisted?.term ?? 0);
    this.#checks = this.#newCheckHost(config, sandbox);
    await this.#checks.start();
    this.#step({
      kind: "check",
      nowMs: this.#now(),
      healthy: this.#checks.healthy(),
    });
    if (this.#options.revokePermissions !== false) {
      await this.#dropPermissions();
    }
    this.#mesh = new Mesh(meshOptions(config, (id) => this.#driverKey(id)));
    this.#control = new ControlServer({
      config,
      status: () => this.snapshot(),
      operator: (record) =>
        this.#etcdPause(record) ?? this.#operator.control(record),
    });
    // External drivers that connect learn the start demote as the state.
    this.#control.broadcastRoleEvent(bootEvent);
    this.#mesh.onEvent((event) => this.#onMeshEvent(event));
    this.#mesh.onChannel(
      "control",
      (channel) => this.#control.acceptControl(channel),
    );
    this.#mesh.onChannel(
      "driver",
      (channel) => this.#control.acceptDriver(channel),
    );
    const server = new HttpServer({
      hostname: config.node.listenHost,
      port: config.node.listenPort,
      handle: (request, client) => this.#handleHttp(request, client),
    });
    server.listen();
    this.#server = server;
    this.#mesh.start();
    if (this.#election instanceof EtcdElectionAdapter) this.#election.start();
    this.#log.info("started", {
      id: config.node.id,
      listen: config.node.listen,
      role: config.node.role,
      priority: config.node.priority,
      term: persisted?.term ?? 0,
      paused: this.#operator.paused(),
    });
    this.#operator.record({
      term: persisted?.term ?? 0,
      from: "stopped",
      to: config.node.role === "witness" ? "witness" : "backup",
      reason: "start",
    });
    this.#schedule();
  }

  /**
   * Start in a known state: every driver is told `demote` (reason `start`);
   * the core keeps the node ineligible until that finished or timed out.
   * Voting and the mesh go on meanwhile.
   */
  #startDemote(term: number): RoleEvent {
    const event = startEvent(this.#config.node.id, term);
    runStartDemote(this.#drivers, event, this.#log).then(() => {
      this.#step({ kind: "start_demote_done", nowMs: this.#now() });
      this.#schedule();
    });
    return event;
  }

  /** With the etcd backend, `clustd pause`/`resume` write etcd's flag. */
  #etcdPause(
    record: Record<string, unknown>,
  ): Promise<Record<string, unknown>> | undefined {
    if (!(this.#election instanceof EtcdElectionAdapter)) return undefined;
    if (record["type"] !== "pause") return undefined;
    return this.#election.setPaused(record["paused"] === true).then(
      (outcome) => ({ type: "reply", ...outcome }),
    );
  }

  #newCheckHost(config: Config, sandbox?: Sandbox): CheckHost {
    const host: CheckHost = new CheckHost(config.checks, {
      ...(sandbox === undefined ? {} : { sandbox }),
      onChange: (healthy, detail) => {
        this.#log.info("checks changed", { healthy, detail });
        this.#step({ kind: "check", nowMs: this.#now(), healthy });
        this.#schedule();
      },
    });
    return host;
  }

  async #dropPermissions(): Promise<void> {
    // `run` stays: a SIGHUP may start new bash/check Workers and a crashed
    // Worker is respawned, and a Worker only gets what the daemon holds. The
    // daemon itself never runs a program (only drivers/ does). The
    // environment is read at start only (DEBUG, CLUSTD_CONFIG), and the
    // process uid (for the script checks of a reload) is cached by then.
    for (const name of DROPPED_PERMISSIONS) {
      await Deno.permissions.revoke({ name });
    }
    this.#log.debug("revoked permissions", {
      names: DROPPED_PERMISSIONS.join(","),
    });
  }

  #handleHttp(request: Request, client: ClientInfo): Response | Upgrade {
    const upgraded = this.#mesh.handleRequest(request, client);
    if (upgraded !== undefined) return upgraded;
    return handleProbe(request, client.address, {
      snapshot: () => this.snapshot(),
      metrics: () => this.metrics(),
      history: () => this.#operator.history.entries(),
      statusAllow: this.#config.cluster.statusAllow,
    });
  }

  /** Monotonic now, clamped so inputs never go backwards. */
  #now(): number {
    const now = Math.max(monotonicMs(), this.#lastNowMs);
    this.#lastNowMs = now;
    return now;
  }

  #onMeshEvent(event: MeshEvent): void {
    // A stopping master still takes its peers' acks until it has handed
    // over: a handover wait (handover_drain_ms) keeps renewing its lease.
    if (this.#closing && event.kind === "message") return;
    // Operator messages (status, history, forwarded commands, pause) share
    // the peer channel but never reach the election core.
    if (
      event.kind === "message" &&
      this.#operator.relay.handle(event.peer, event.message)
    ) return;
    // Tick first: after a stall (SIGSTOP, GC) the core must see the time and
    // drop an expired lease before it reacts to anything a peer says.
    this.#step({ kind: "tick", nowMs: this.#now() });
    const nowMs = this.#now();
    if (event.kind === "peer_up") {
      this.#step({ kind: "peer_up", nowMs, peer: event.peer });
      this.#operator.onPeerUp(event.peer);
    } else if (event.kind === "peer_down") {
      this.#step({ kind: "peer_down", nowMs, peer: event.peer });
    } else {
      const message = parseMessage(event.message);
      if (typeof message === "string") {
        this.#log.warn("dropped invalid election message", {
          peer: event.peer,
          reason: message,
        });
        return;
      }
      this.#step({ kind: "message", nowMs, from: event.peer, message });
    }
    this.#schedule();
  }

  #step(input: Input): void {
    const effects = this.#election.step(input);
    for (const effect of effects) this.#apply(effect);
  }

  #apply(effect: Effect): void {
    switch (effect.kind) {
      case "persist":
        this.#persist(effect.term, effect.votedFor);
        return;
      case "send":
        this.#mesh?.send(effect.to, effect.message);
        return;
      case "promote":
        this.#onPromote(effect.term, effect.reason);
        return;
      case "demote":
        this.#onDemote(effect.term, effect.reason, effect.handover);
        return;
      case "pre_promote":
        this.#runPrePromote(effect.term);
        return;
      case "reply":
        // Commands from the CLI and peers wait in the operator; the
        // shutdown command of stop() has nobody waiting.
        this.#operator.reply(effect.requestId, effect.ok, effect.message);
        return;
      case "log":
        this.#logDecision(effect);
        return;
    }
  }

  #persist(term: number, votedFor: string | null): void {
    try {
      saveState(this.#config.stateDir, { term, votedFor });
    } catch (error: unknown) {
      // A vote that is not on disk must not leave: exit and let the service
      // manager restart us (the restart embargo keeps that safe).
      this.#log.error("cannot persist election state, exiting", {
        dir: this.#config.stateDir,
        error: error instanceof Error ? error.message : String(error),
      });
      Deno.exit(1);
    }
  }

  #roleEvent(
    event: "promote" | "demote",
    term: number,
    reason: RoleReason,
  ): RoleEvent {
    const status = this.#election.status(this.#now());
    return {
      event,
      reason,
      role: event === "promote" ? "master" : "backup",
      term,
      nodeId: this.#config.node.id,
      masterId: event === "promote" ? this.#config.node.id : status.masterId,
    };
  }

  #onPromote(term: number, reason: PromoteReason): void {
    this.#counters.promotions++;
    this.#masterSinceWallMs = Date.now();
    this.#promoteReason = reason;
    const event = this.#roleEvent("promote", term, reason);
    // The core's `election: promote` line is the one log line of a promote.
    this.#operator.record({ term, from: "backup", to: "master", reason });
    this.#drivers.dispatch(event);
    this.#control?.broadcastRoleEvent(event);
  }

  #onDemote(term: number, reason: RoleReason, handover: boolean): void {
    this.#counters.demotions++;
    this.#masterSinceWallMs = null;
    const event = this.#roleEvent("demote", term, reason);
    // The core's `election: demote` line is the one log line of a demote.
    this.#operator.record({ term, from: "master", to: "backup", reason });
    this.#drivers.dispatch(event);
    this.#control?.broadcastRoleEvent(event);
    if (!handover) return;
    // Planned handover: the target may campaign only after our demote
    // drivers finished (external ones: acked), so a VIP is never held by two
    // machines.
    const externals = this.#control?.acked(event, EXTERNAL_ACK_WAIT_MS) ??
      Promise.resolve([]);
    Promise.all([this.#drivers.settled(), externals]).then(([, silent]) => {
      if (silent.length > 0) {
        this.#log.warn("handing over without the demote ack of", {
          drivers: silent.join(","),
          waitedMs: EXTERNAL_ACK_WAIT_MS,
        });
      }
      this.#demoteDoneTerm = term;
      this.#step({ kind: "demote_done", nowMs: this.#now(), term });
      this.#schedule();
    }, (error: unknown) => {
      this.#log.error("waiting for demote drivers failed", {
        error: String(error),
      });
    });
  }

  #runPrePromote(term: number): void {
    this.#drivers.prePromote(term, this.#config.node.id).then((ok) => {
      if (!ok) this.#log.warn("pre_promote vetoed the promotion", { term });
      this.#step({ kind: "pre_promote_result", nowMs: this.#now(), term, ok });
      this.#schedule();
    }, (error: unknown) => {
      this.#log.error("pre_promote failed", { term, error: String(error) });
      this.#step({
        kind: "pre_promote_result",
        nowMs: this.#now(),
        term,
        ok: false,
      });
      this.#schedule();
    });
  }

  #logDecision(effect: Extract<Effect, { kind: "log" }>): void {
    const events = this.#counters.events;
    events.set(effect.event, (events.get(effect.event) ?? 0) + 1);
    if (effect.event === "campaign") this.#counters.elections++;
    const fields = { ...effect.fields };
    if (effect.level === "debug") this.#electionLog.debug(effect.event, fields);
    else if (effect.level === "warn") {
      this.#electionLog.warn(effect.event, fields);
    } else this.#electionLog.info(effect.event, fields);
  }

  /** Arms the single timer for the core's next deadline. */
  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#server === null && !this.#stopping) return;
    const now = monotonicMs();
    const wake = Math.min(
      this.#election.nextWakeMs(),
      now + this.#config.cluster.heartbeatMs,
    );
    const delayMs = Math.max(0, Math.ceil(wake - now));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#step({ kind: "tick", nowMs: this.#now() });
      this.#schedule();
    }, delayMs);
  }

  /** Feeds a control command to the core; the reply arrives through `reply` effects. */
  command(requestId: string, command: Command): void {
    this.#step({ kind: "command", nowMs: this.#now(), requestId, command });
    this.#schedule();
  }

  /** The public status document. */
  snapshot(): StatusSnapshot {
    return buildSnapshot({
      config: this.#config,
      election: this.#election.status(this.#now()),
      peers: this.#mesh?.peers() ?? [],
      uptimeMs: monotonicMs() - this.#startMs,
      version: this.#options.version,
      masterSinceWallMs: this.#masterSinceWallMs,
      checks: this.#checks?.status() ?? [],
      stopping: this.#stopping,
    });
  }

  /** Re-reads the config file and applies it (SIGHUP, `clustd reload`). */
  reloadFile(): Promise<{ ok: boolean; message: string; errors: string[] }> {
    return this.#operator.reloadFile();
  }

  /** Prometheus text for /metrics. */
  metrics(): string {
    const families: MetricFamily[] = [
      ...daemonFamilies(this.snapshot(), this.#counters),
      ...meshFamilies(this.#mesh.metrics()),
      ...(this.#server === null
        ? []
        : httpServerFamilies(this.#server.metrics())),
      ...driverFamilies(this.#drivers.stats()),
      ...checkFamilies(this.#checks.status()),
    ];
    return renderMetrics(families);
  }

  /**
   * SIGHUP: applies what may change live (log settings, status_allow,
   * drivers, checks) from `next`, or nothing at all. Returns what happened.
   * Reloads run one at a time, each against what the one before applied.
   */
  reload(next: Config): Promise<{ ok: boolean; message: string }> {
    const run = this.#reloads.then(() => this.#reload(next));
    this.#reloads = run.then(() => {}, () => {});
    return run;
  }

  async #reload(next: Config): Promise<{ ok: boolean; message: string }> {
    const plan = planReload(this.#config, next);
    if (plan.refused.length > 0) {
      return { ok: false, message: plan.refused.join("; ") };
    }
    const prepared = await prepareReload(next, {
      plan,
      drivers: this.#drivers,
      checks: this.#checks,
    });
    if (typeof prepared === "string") return { ok: false, message: prepared };
    const applied: string[] = [];
    if (plan.log) {
      configureLogging({
        format: next.log.format,
        debug: [next.log.debug, this.#debugEnv].filter((s) => s !== "").join(
          ",",
        ),
      });
      applied.push("log");
    }
    if (plan.statusAllow) applied.push("cluster.status_allow");
    // Keys of external driver ids added by the reload (the token is fixed).
    if (plan.drivers) this.#keys = await deriveDaemonKeys(next);
    this.#config = next;
    this.#control.setConfig(next);
    if (prepared.drivers !== null) {
      // New and changed drivers learn the current role once, as a restarted
      // driver would; unchanged ones run nothing.
      const status = this.#election.status(this.#now());
      // A new driver on a backup starts in a known state, as at boot.
      const current = status.role === "master"
        ? this.#roleEvent("promote", status.term, this.#promoteReason)
        : this.#roleEvent("demote", status.term, "start");
      await prepared.drivers.commit(current);
      applied.push(describeUpdate("drivers", prepared.drivers));
    }
    if (prepared.checks !== null) {
      await prepared.checks.commit();
      this.#step({
        kind: "check",
        nowMs: this.#now(),
        healthy: this.#checks.healthy(),
      });
      this.#schedule();
      applied.push(describeUpdate("checks", prepared.checks));
    }
    return {
      ok: true,
      message: applied.length === 0
        ? "nothing changed"
        : `reloaded ${applied.join(", ")}`,
    };
  }

  /**
   * Graceful stop (SIGTERM/SIGINT): a master hands over first (demote drivers,
   * then TimeoutNow to the best backup), then everything closes.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const wasMaster = this.#election.status(this.#now()).role === "master";
    this.command("shutdown", { type: "shutdown" });
    if (wasMaster) await this.#awaitHandover();
    this.#closing = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#operator.close();
    this.#operator.record({
      term: this.#election.status(this.#now()).term,
      from: this.#election.status(this.#now()).role,
      to: "stopped",
      reason: "shutdown",
    });
    await this.#checks.stop();
    if (this.#election instanceof EtcdElectionAdapter) {
      await this.#election.stop();
    }
    await this.#control.close();
    await this.#mesh.close();
    await this.#server?.close();
    this.#server = null;
    await this.#drivers.stop();
    this.#log.info("stopped", { id: this.#config.node.id });
  }

  async #awaitHandover(): Promise<void> {
    const term = this.#election.status(this.#now()).term;
    const deadline = monotonicMs() + SHUTDOWN_GRACE_MAX_MS;
    while (this.#demoteDoneTerm < term && monotonicMs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Let the TimeoutNow frame leave before the socket closes.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
