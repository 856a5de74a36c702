/**
 * clustd on the network-namespace test hosts, for the failover benchmark and
 * the fault suite (and its soak): one `clustd run` per namespace, started
 * with `daemonFlags()` (what `deno task compile` bakes in) through
 * `ip netns exec` and `sh -c exec`, so the child's PID is the daemon's. It
 * listens on its host's 198.18.0.x address; its own priority 100/90/80/...
 * (like the keepalived setup, or `priorities`; configs name no peer
 * priority: nodes advertise their own); a bash driver whose hooks append
 * `<ms epoch> <node> <event> <term> <master> <reason>` to the shared hook log. Every start, kill, stop,
 * continue, SIGTERM and exit the harness causes is recorded as a lifecycle
 * event for the fault checker.
 *
 * Owns its temp dir, the processes it started (signalled only by PID) and,
 * from `createWithTopology()`, its topology. `close()` is safe to call twice.
 */
import {
  type HookLine,
  type HookScriptOptions,
  parseHookLog,
  writeHookScript,
} from "../_hook_log.ts";
import {
  clustdArgv,
  randomKey,
  readLog,
  sleep,
  waitAtMost,
  waitFor,
} from "../_process.ts";
import {
  EXIT_WAIT_MS,
  type HostProcess,
  NetnsProcessCluster,
} from "./_process_cluster.ts";
import { createTopology, type Host, type Topology } from "./_topology.ts";

/** Port every node listens on (each namespace has its own port space). */
export const NODE_PORT = 7400;
const LEASE_FRACTION = 0.9;
const READY_POLL_MS = 20;
const READY_LINE = /INFO\s+daemon: started /g;
const LOG_TAIL_CHARS = 4000;

/** Something the harness did to a node (or saw it do), wall-clock ms. */
export interface LifeEvent {
  atMs: number;
  node: string;
  /** `term` = SIGTERM sent; `exit` = it exited after that. */
  kind: "start" | "kill" | "stop" | "cont" | "term" | "exit";
}

/** Options of `ClustdNetnsCluster.create()`. */
export interface ClustdNetnsOptions {
  heartbeatMs: number;
  /** Default 4 × heartbeat. */
  electionTimeoutMs?: number;
  preempt?: boolean;
  /** corosync-style two_node (2 nodes; either may be master alone: unsafe on purpose). */
  twoNode?: boolean;
  /** Hook script timeout, default 5000. */
  hookTimeoutMs?: number;
  /** Keep the temp dir on close (to read logs after a failure). */
  keepDir?: boolean;
  /** Each host's own `node.priority` by name (default 100, 90, 80, ...). */
  priorities?: Readonly<Record<string, number>>;
  /** What the hook script does besides logging its line (e.g. a VIP, a sleep). */
  hook?: HookScriptOptions;
  /** Only the first `members` hosts run clustd (the rest are clients); default all. */
  members?: number;
  /** More entries of `drivers:` (YAML list items, indented by two spaces). */
  extraDrivers?: string;
  /** Entries of `checks:` (YAML list items, indented by two spaces). */
  checks?: string;
  /** `backend: etcd` with these settings, and no mesh peers. */
  etcd?: { endpoints: string[]; prefix: string; ttlMs: number };
}

interface Node extends HostProcess {
  configPath: string;
  stopped: boolean;
  /** Wall-clock ms of the latest start. */
  startedAtMs: number;
  /** "daemon: started" lines seen in the log before the current start. */
  startsBefore: number;
}

/** A clustd cluster on namespace hosts; implements the bench's FailoverCluster shape. */
export class ClustdNetnsCluster extends NetnsProcessCluster<Node> {
  readonly tool = "clustd";
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** The default lease (0.9 E): a master acts as master no longer than this after its last ack. */
  readonly leaseMs: number;
  /** Δ: the campaign delay step per rank (DESIGN §1: min(h/10, 100)). */
  readonly rankDelayMs: number;
  /** Every start/kill/stop/cont/term/exit the harness caused, in order. */
  readonly lifecycle: LifeEvent[] = [];
  readonly #priorities: Readonly<Record<string, number>>;

  private constructor(
    topology: Topology,
    options: ClustdNetnsOptions & { ownsTopology: boolean },
  ) {
    super(topology, {
      dirPrefix: "clustd-netns-",
      ownsTopology: options.ownsTopology,
      keepDir: options.keepDir ?? false,
      ...(options.members === undefined ? {} : { members: options.members }),
    });
    this.heartbeatMs = options.heartbeatMs;
    this.electionTimeoutMs = options.electionTimeoutMs ??
      4 * options.heartbeatMs;
    this.leaseMs = Math.floor(LEASE_FRACTION * this.electionTimeoutMs);
    this.rankDelayMs = Math.min(Math.floor(this.heartbeatMs / 10), 100);
    this.#priorities = options.priorities ?? {};
    Deno.writeTextFileSync(`${this.dir}/secret`, randomKey() + "\n", {
      mode: 0o600,
    });
    const hook = `${this.dir}/hook.sh`;
    writeHookScript(hook, this.hookLogPath, options.hook);
    for (const host of topology.hosts.slice(0, options.members)) {
      const node: Node = {
        host,
        configPath: `${this.dir}/${host.name}.yml`,
        logPath: `${this.dir}/${host.name}.log`,
        child: null,
        stopped: false,
        startedAtMs: 0,
        startsBefore: 0,
      };
      Deno.writeTextFileSync(
        node.configPath,
        this.#config(host, hook, options),
      );
      this.add(node);
    }
  }

  /** Writes configs for every host of the caller's `topology`; starts nothing. */
  static create(
    topology: Topology,
    options: ClustdNetnsOptions,
  ): ClustdNetnsCluster {
    return new ClustdNetnsCluster(topology, {
      ...options,
      ownsTopology: false,
    });
  }

  /** Builds a topology of `nodes` hosts (destroyed by `close()`) and writes configs. */
  static async createWithTopology(
    options: ClustdNetnsOptions & { nodes: number },
  ): Promise<ClustdNetnsCluster> {
    const topology = await createTopology(options.nodes);
    try {
      return new ClustdNetnsCluster(topology, {
        ...options,
        ownsTopology: true,
      });
    } catch (error: unknown) {
      await topology.destroy();
      throw error;
    }
  }

  #config(host: Host, hook: string, options: ClustdNetnsOptions): string {
    const members = options.etcd === undefined
      ? this.topology.hosts.slice(0, options.members)
      : [];
    const peers = members.filter((h) => h !== host).map((h) =>
      `    - { id: ${h.name}, url: "ws://${h.address}:${NODE_PORT}", role: voter }`
    ).join("\n");
    return `node:
  id: ${host.name}
  listen: ${host.address}:${NODE_PORT}
  advertise: ws://${host.address}:${NODE_PORT}
  role: voter
  priority: ${this.ownPriority(host.name)}
cluster:
  secret_file: ${this.dir}/secret
  peers:
${peers}
  heartbeat_ms: ${this.heartbeatMs}
  election_timeout_ms: ${this.electionTimeoutMs}
  preempt: ${options.preempt ?? false}
  two_node: ${options.twoNode ?? false}
${etcdYaml(options.etcd)}state_dir: ${this.dir}/state-${host.name}
drivers:
  - type: bash
    promote: ${hook}
    demote: ${hook}
    timeout_ms: ${options.hookTimeoutMs ?? 5000}
${options.extraDrivers ?? ""}${
      options.checks === undefined ? "" : `checks:\n${options.checks}`
    }`;
  }

  /** The `node.priority` in `host`'s own config. */
  ownPriority(host: string): number {
    const known = this.topology.hosts.find((h) => h.name === host);
    if (known === undefined) throw new Error(`no host ${host}`);
    return this.#priorities[host] ?? this.priority(known);
  }

  #record(node: string, kind: LifeEvent["kind"]): number {
    const atMs = Date.now();
    this.lifecycle.push({ atMs, node, kind });
    return atMs;
  }

  #readyCount(node: Node): number {
    return readLog(node.logPath).match(READY_LINE)?.length ?? 0;
  }

  /** The node's running child; throws when it is not running (or is stopped, unless `stoppedOk`). */
  #child(node: Node, stoppedOk: boolean): Deno.ChildProcess {
    const child = node.child;
    if (child === null || (node.stopped && !stoppedOk)) {
      throw new Error(
        `clustd on ${node.host.name} is not running or is stopped`,
      );
    }
    return child;
  }

  /** Starts `clustd run` on `host` inside its namespace. */
  start(host: string): void {
    const node = this.process(host);
    if (node.child !== null) throw new Error(`clustd on ${host} already runs`);
    node.startsBefore = this.#readyCount(node);
    this.spawn(node, clustdArgv(["run", "--config", node.configPath]), {
      DEBUG: "clustd:election",
      NO_COLOR: "1",
    });
    node.stopped = false;
    node.startedAtMs = this.#record(host, "start");
  }

  /** Starts every node that is not running. */
  startAll(): void {
    for (const host of this.hosts) {
      if (!this.running(host)) this.start(host);
    }
  }

  /** Waits until every running node logged "started" since its last start. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = this.processes().filter((n) =>
        n.child !== null && this.#readyCount(n) <= n.startsBefore
      );
      if (pending.length === 0) return true;
      await sleep(READY_POLL_MS);
    }
    return false;
  }

  /** Whether `host` is SIGSTOPped. */
  stopped(host: string): boolean {
    return this.process(host).stopped;
  }

  /** kill -9 and reap; returns the wall-clock time the signal was sent. */
  async kill(host: string): Promise<number> {
    const node = this.process(host);
    const child = this.#child(node, true);
    const atMs = this.#record(host, "kill");
    child.kill("SIGKILL");
    await waitAtMost(child.status, EXIT_WAIT_MS);
    node.child = null;
    node.stopped = false;
    return atMs;
  }

  /** SIGSTOP; returns the time sent. */
  stop(host: string): number {
    const node = this.process(host);
    const child = this.#child(node, false);
    const atMs = this.#record(host, "stop");
    child.kill("SIGSTOP");
    node.stopped = true;
    return atMs;
  }

  /** SIGCONT to a stopped node; returns the time sent. */
  cont(host: string): number {
    const node = this.process(host);
    if (node.child === null || !node.stopped) {
      throw new Error(`clustd on ${host} is not stopped`);
    }
    node.child.kill("SIGCONT");
    node.stopped = false;
    return this.#record(host, "cont");
  }

  /**
   * SIGTERM and wait for the exit (a master hands over first). Records the
   * exit; after EXIT_WAIT_MS the daemon is killed and that is recorded.
   * Returns when it was sent and the exit code (null when it had to be killed).
   */
  async #term(host: string): Promise<{ atMs: number; code: number | null }> {
    const node = this.process(host);
    const child = this.#child(node, false);
    const atMs = this.#record(host, "term");
    child.kill("SIGTERM");
    const result = await waitAtMost(child.status, EXIT_WAIT_MS);
    node.child = null;
    if (result === "timeout") {
      this.#record(host, "kill");
      child.kill("SIGKILL");
      await waitAtMost(child.status, EXIT_WAIT_MS);
      return { atMs, code: null };
    }
    this.#record(host, "exit");
    return { atMs, code: (await child.status).code };
  }

  /** SIGTERM and wait for the exit; the exit code, or null when it had to be killed. */
  async term(host: string): Promise<number | null> {
    return (await this.#term(host)).code;
  }

  /**
   * The bench's way in: SIGKILL, SIGTERM (both reap), SIGSTOP, or SIGCONT
   * (a no-op on a node that is not stopped). Returns the wall-clock ms sent.
   */
  async signal(host: string, signal: Deno.Signal): Promise<number> {
    switch (signal) {
      case "SIGKILL":
        return await this.kill(host);
      case "SIGTERM":
        return (await this.#term(host)).atMs;
      case "SIGSTOP":
        return this.stop(host);
      case "SIGCONT":
        return this.stopped(host) ? this.cont(host) : Date.now();
      default:
        throw new Error(`Signal ${signal} is not one the harness sends`);
    }
  }

  /** PID of the daemon running on `host`, or null. */
  pid(host: string): number | null {
    return this.process(host).child?.pid ?? null;
  }

  /** Parsed hook log so far. */
  hooks(): HookLine[] {
    return parseHookLog(Deno.readTextFileSync(this.hookLogPath));
  }

  /** The running node whose last hook line (this life) is a promote, if exactly one. */
  currentMaster(): string | null {
    const open = new Set<string>();
    for (const line of this.hooks()) {
      // A promote of an earlier life of a restarted node says nothing now.
      const life = this.process(line.node).startedAtMs;
      if (line.event === "promote" && line.atMs >= life) open.add(line.node);
      else open.delete(line.node);
    }
    const running = [...open].filter((n) => this.running(n));
    return running.length === 1 ? running[0] ?? null : null;
  }

  /** Polls until `predicate` holds or `timeoutMs` passed; returns whether it held. */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    return waitFor(predicate, timeoutMs);
  }

  /** Waits for a single running master; returns its name or null. */
  async waitForMaster(timeoutMs: number): Promise<string | null> {
    await this.waitFor(() => this.currentMaster() !== null, timeoutMs);
    return this.currentMaster();
  }

  /** A node's stderr so far (for failure messages), the last `chars` of it. */
  logTail(host: string, chars = LOG_TAIL_CHARS): string {
    return this.logOf(host).slice(-chars);
  }
}

/** The `backend: etcd` lines of a node's config ("" for the mesh). */
function etcdYaml(etcd: ClustdNetnsOptions["etcd"]): string {
  if (etcd === undefined) return "";
  return `  backend: etcd
  etcd:
    endpoints: [${etcd.endpoints.join(", ")}]
    prefix: ${etcd.prefix}
    ttl_ms: ${etcd.ttlMs}
`;
}
