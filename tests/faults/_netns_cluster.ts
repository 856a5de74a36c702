/**
 * clustd on network-namespace test hosts for the fault suite and the soak:
 * one `clustd run` per namespace, started with `daemonFlags()` (what
 * `deno task compile` bakes in) through `ip netns exec` and `sh -c exec`, so
 * the child's PID is the daemon's. Hooks append `<ms epoch> <node> <event>
 * <term> <master>` to one shared log; every start, kill, stop, continue and
 * exit the harness causes is recorded as a lifecycle event for the checker.
 *
 * Owns its topology, temp dir and the processes it started; signals only
 * those, by PID. `close()` tears everything down and is safe to call twice.
 */
import { daemonFlags } from "../../tools/flags.ts";
import {
  createTopology,
  type Host,
  type Topology,
} from "../netns/_topology.ts";
import type { HookLine, LifeEvent } from "./_checker.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}src/main.ts`;
/** Port every node listens on (each namespace has its own port space). */
export const NODE_PORT = 7400;
const PRIORITY_TOP = 100;
const PRIORITY_STEP = 10;
const LEASE_FRACTION = 0.9;
const EXIT_WAIT_MS = 20_000;
const POLL_MS = 20;
const READY_LINE = /INFO\s+daemon: started /g;

/** Options of `FaultCluster.create()`. */
export interface FaultClusterOptions {
  /** 3 or 5 in the suite; any count the topology allows. */
  nodes: number;
  heartbeatMs: number;
  /** Default 4 × heartbeat. */
  electionTimeoutMs?: number;
  preempt?: boolean;
  /** corosync-style two_node (2 nodes; either may be master alone: unsafe on purpose). */
  twoNode?: boolean;
  /** Keep the temp dir on close (to read logs after a failure). */
  keepDir?: boolean;
}

interface Node {
  host: Host;
  configPath: string;
  logPath: string;
  child: Deno.ChildProcess | null;
  stopped: boolean;
  /** Wall-clock ms of the latest start. */
  startedAtMs: number;
  /** "daemon: started" lines seen in the log before the current start. */
  startsBefore: number;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitAtMost(promise: Promise<unknown>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  const result = await Promise.race([promise.then(() => "done"), timeout]);
  clearTimeout(timer);
  return result;
}

/** Parses the hook log; malformed lines (a torn write) are skipped. */
export function parseHookLog(text: string): HookLine[] {
  const lines: HookLine[] = [];
  for (const raw of text.split("\n")) {
    const [at, node, event, term, master] = raw.trim().split(" ");
    if (!/^\d+$/.test(at ?? "") || node === undefined) continue;
    if (event !== "promote" && event !== "demote") continue;
    lines.push({
      atMs: Number(at),
      node,
      event,
      term: Number(term ?? 0),
      master: master ?? "",
    });
  }
  return lines;
}

/** A clustd cluster on its own namespace topology. */
export class FaultCluster {
  readonly topology: Topology;
  readonly dir: string;
  readonly hookLogPath: string;
  readonly names: readonly string[];
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly leaseMs: number;
  /** Δ: the campaign delay step per rank (DESIGN §1: min(h/10, 100)). */
  readonly rankDelayMs: number;
  /** Every start/kill/stop/cont/exit the harness caused, in order. */
  readonly lifecycle: LifeEvent[] = [];
  readonly #nodes = new Map<string, Node>();
  readonly #keepDir: boolean;
  #closed = false;

  private constructor(topology: Topology, options: FaultClusterOptions) {
    this.topology = topology;
    this.heartbeatMs = options.heartbeatMs;
    this.electionTimeoutMs = options.electionTimeoutMs ??
      4 * options.heartbeatMs;
    this.leaseMs = Math.floor(LEASE_FRACTION * this.electionTimeoutMs);
    this.rankDelayMs = Math.min(Math.floor(this.heartbeatMs / 10), 100);
    this.#keepDir = options.keepDir ?? false;
    this.dir = Deno.makeTempDirSync({ prefix: "clustd-faults-" });
    this.hookLogPath = `${this.dir}/hooks.log`;
    this.names = topology.hosts.map((h) => h.name);
    Deno.writeTextFileSync(this.hookLogPath, "");
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    Deno.writeTextFileSync(
      `${this.dir}/secret`,
      btoa(String.fromCharCode(...bytes)) + "\n",
      { mode: 0o600 },
    );
    const hook = `${this.dir}/hook.sh`;
    Deno.writeTextFileSync(
      hook,
      `#!/bin/sh\necho "$(date +%s%3N) $CLUSTD_NODE_ID $CLUSTD_EVENT $CLUSTD_TERM $CLUSTD_MASTER_ID" >> ${this.hookLogPath}\n`,
      { mode: 0o755 },
    );
    for (const host of topology.hosts) {
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
        this.#config(node, hook, options),
      );
      this.#nodes.set(host.name, node);
    }
  }

  /** Builds the topology and writes configs; starts no daemon. */
  static async create(options: FaultClusterOptions): Promise<FaultCluster> {
    const topology = await createTopology(options.nodes);
    try {
      return new FaultCluster(topology, options);
    } catch (error: unknown) {
      await topology.destroy();
      throw error;
    }
  }

  #priority(host: Host): number {
    const index = this.topology.hosts.indexOf(host);
    return Math.max(PRIORITY_STEP, PRIORITY_TOP - PRIORITY_STEP * index);
  }

  #config(node: Node, hook: string, options: FaultClusterOptions): string {
    const peers = this.topology.hosts.filter((h) => h !== node.host).map((h) =>
      `    - { id: ${h.name}, url: "ws://${h.address}:${NODE_PORT}", role: voter, priority: ${
        this.#priority(h)
      } }`
    ).join("\n");
    return `node:
  id: ${node.host.name}
  listen: ${node.host.address}:${NODE_PORT}
  advertise: ws://${node.host.address}:${NODE_PORT}
  role: voter
  priority: ${this.#priority(node.host)}
cluster:
  secret_file: ${this.dir}/secret
  peers:
${peers}
  heartbeat_ms: ${this.heartbeatMs}
  election_timeout_ms: ${this.electionTimeoutMs}
  preempt: ${options.preempt ?? false}
  two_node: ${options.twoNode ?? false}
state_dir: ${this.dir}/state-${node.host.name}
drivers:
  - type: bash
    promote: ${hook}
    demote: ${hook}
    timeout_ms: 5000
`;
  }

  #node(name: string): Node {
    const node = this.#nodes.get(name);
    if (node === undefined) throw new Error(`Unknown node "${name}"`);
    return node;
  }

  #record(node: string, kind: LifeEvent["kind"]): number {
    const atMs = Date.now();
    this.lifecycle.push({ atMs, node, kind });
    return atMs;
  }

  #readyCount(node: Node): number {
    try {
      return Deno.readTextFileSync(node.logPath).match(READY_LINE)?.length ?? 0;
    } catch (_error: unknown) {
      return 0; // No log yet: the daemon has not written a line.
    }
  }

  /** Starts `clustd run` on `name` inside its namespace. */
  start(name: string): void {
    const node = this.#node(name);
    if (node.child !== null) throw new Error(`clustd on ${name} already runs`);
    node.startsBefore = this.#readyCount(node);
    const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
    const argv = [
      Deno.execPath(),
      "run",
      ...daemonFlags(),
      MAIN,
      "run",
      "--config",
      node.configPath,
    ];
    const child = this.topology.spawn(node.host, [
      "/bin/sh",
      "-c",
      `exec ${argv.map(quote).join(" ")} 2>>${quote(node.logPath)}`,
    ], { cwd: ROOT, env: { DEBUG: "clustd:election", NO_COLOR: "1" } });
    node.child = child;
    node.stopped = false;
    node.startedAtMs = this.#record(name, "start");
  }

  /** Starts every node that is not running. */
  startAll(): void {
    for (const name of this.names) {
      if (this.#node(name).child === null) this.start(name);
    }
  }

  /** Waits until every running node logged "started" since its last start. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = [...this.#nodes.values()].filter((n) =>
        n.child !== null && this.#readyCount(n) <= n.startsBefore
      );
      if (pending.length === 0) return true;
      await sleep(POLL_MS);
    }
    return false;
  }

  /** Whether clustd on `name` runs (started and not killed or exited). */
  running(name: string): boolean {
    return this.#node(name).child !== null;
  }

  /** Whether `name` is SIGSTOPped. */
  stopped(name: string): boolean {
    return this.#node(name).stopped;
  }

  /** kill -9; returns the wall-clock time the signal was sent. */
  async kill(name: string): Promise<number> {
    const node = this.#node(name);
    const child = node.child;
    if (child === null) throw new Error(`clustd on ${name} is not running`);
    const atMs = this.#record(name, "kill");
    child.kill("SIGKILL");
    await waitAtMost(child.status, EXIT_WAIT_MS);
    node.child = null;
    node.stopped = false;
    return atMs;
  }

  /** SIGSTOP; returns the time sent. */
  stop(name: string): number {
    const node = this.#node(name);
    if (node.child === null || node.stopped) {
      throw new Error(`clustd on ${name} is not running or already stopped`);
    }
    const atMs = this.#record(name, "stop");
    node.child.kill("SIGSTOP");
    node.stopped = true;
    return atMs;
  }

  /** SIGCONT; returns the time sent. */
  cont(name: string): number {
    const node = this.#node(name);
    if (node.child === null || !node.stopped) {
      throw new Error(`clustd on ${name} is not stopped`);
    }
    node.child.kill("SIGCONT");
    node.stopped = false;
    return this.#record(name, "cont");
  }

  /**
   * SIGTERM and wait for the exit (a master hands over first). Records the
   * exit time; after EXIT_WAIT_MS the daemon is killed and that is recorded.
   * Returns the exit code, or null when it had to be killed.
   */
  async term(name: string): Promise<number | null> {
    const node = this.#node(name);
    const child = node.child;
    if (child === null || node.stopped) {
      throw new Error(`clustd on ${name} is not running or is stopped`);
    }
    this.#record(name, "term");
    child.kill("SIGTERM");
    const result = await waitAtMost(child.status, EXIT_WAIT_MS);
    node.child = null;
    if (result === "timeout") {
      this.#record(name, "kill");
      child.kill("SIGKILL");
      await waitAtMost(child.status, EXIT_WAIT_MS);
      return null;
    }
    this.#record(name, "exit");
    return (await child.status).code;
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
      const life = this.#node(line.node).startedAtMs;
      if (line.event === "promote" && line.atMs >= life) open.add(line.node);
      else open.delete(line.node);
    }
    const running = [...open].filter((n) => this.running(n));
    return running.length === 1 ? running[0] ?? null : null;
  }

  /** Polls until `predicate` holds or `timeoutMs` passed; returns whether it held. */
  async waitFor(
    predicate: () => boolean,
    timeoutMs: number,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate()) return true;
      await sleep(POLL_MS);
    }
    return predicate();
  }

  /** Waits for a single running master; returns its name or null. */
  async waitForMaster(timeoutMs: number): Promise<string | null> {
    await this.waitFor(() => this.currentMaster() !== null, timeoutMs);
    return this.currentMaster();
  }

  /** A node's stderr so far (for failure messages), the last `chars` of it. */
  logTail(name: string, chars = 4000): string {
    try {
      return Deno.readTextFileSync(this.#node(name).logPath).slice(-chars);
    } catch (_error: unknown) {
      return "";
    }
  }

  /** Kills every daemon it started (by PID), destroys the topology, removes the dir. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const node of this.#nodes.values()) {
        const child = node.child;
        if (child === null) continue;
        try {
          child.kill("SIGCONT");
          child.kill("SIGKILL");
        } catch (_error: unknown) {
          // It exited on its own in the meantime.
        }
        await waitAtMost(child.status, EXIT_WAIT_MS);
        node.child = null;
      }
    } finally {
      await this.topology.destroy();
      if (!this.#keepDir) Deno.removeSync(this.dir, { recursive: true });
    }
  }
}
