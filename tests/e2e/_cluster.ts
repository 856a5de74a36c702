/**
 * Test harness for end-to-end runs: real `clustd run` processes on loopback
 * (started exactly like `deno task clustd run`), hook scripts that append
 * timestamped lines to one shared log, and helpers to wait, kill and check.
 * Kills only the processes it started, by PID, and removes its temp dir.
 */

import { writeHookScript } from "../_hook_log.ts";
import {
  clustdArgv,
  freePort,
  killChild,
  randomKey,
  readLog,
  ROOT,
  sleep,
  spawnLogged,
  waitAtMost,
  waitFor,
} from "../_process.ts";

export { sleep };

/** Longest wait for a node to exit after SIGKILL, SIGTERM or SIGINT. */
const EXIT_WAIT_MS = 20_000;
/** Longest wait for a node to exit when the cluster closes. */
const CLOSE_WAIT_MS = 5000;

/** One hook log line: `<ms> <node> <event> <term> <master>`. */
export interface HookLine {
  atMs: number;
  node: string;
  event: string;
  term: number;
  master: string;
}

/** Per-node settings. */
export interface NodeSpec {
  id: string;
  role?: "voter" | "witness";
  priority?: number;
  /** Extra YAML lines appended under `drivers:` (already indented). */
  extraDrivers?: string;
  /** YAML for `checks:` entries (already indented), or none. */
  checks?: string;
  /** Shell lines run in the promote hook after logging (e.g. `sleep 1`). */
  promoteExtra?: string;
  prePromote?: string;
}

/** Cluster-wide settings. */
export interface ClusterSpec {
  nodes: NodeSpec[];
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  twoNode?: boolean;
  preempt?: boolean;
  hookTimeoutMs?: number;
  extraCluster?: string;
  /** List the other nodes as mesh peers (default true; false with etcd). */
  meshPeers?: boolean;
}

/** A running node. */
export interface TestNode {
  spec: NodeSpec;
  port: number;
  configPath: string;
  stateDir: string;
  logPath: string;
  child: Deno.ChildProcess | null;
}

/** A cluster of real clustd processes in a temp directory. */
export class TestCluster {
  readonly dir: string;
  readonly hookLog: string;
  readonly nodes = new Map<string, TestNode>();
  readonly spec: ClusterSpec;
  readonly secret: string;

  private constructor(spec: ClusterSpec) {
    this.spec = spec;
    this.dir = Deno.makeTempDirSync({ prefix: "clustd-e2e-" });
    this.hookLog = `${this.dir}/hooks.log`;
    Deno.writeTextFileSync(this.hookLog, "");
    this.secret = randomKey();
  }

  /** Writes configs and hook scripts; starts nothing. */
  static create(spec: ClusterSpec): TestCluster {
    const cluster = new TestCluster(spec);
    for (const node of spec.nodes) {
      const port = freePort();
      cluster.nodes.set(node.id, {
        spec: node,
        port,
        configPath: `${cluster.dir}/${node.id}.yml`,
        stateDir: `${cluster.dir}/state-${node.id}`,
        logPath: `${cluster.dir}/${node.id}.log`,
        child: null,
      });
    }
    Deno.writeTextFileSync(`${cluster.dir}/secret`, cluster.secret + "\n", {
      mode: 0o600,
    });
    for (const node of cluster.nodes.values()) cluster.#writeNode(node);
    return cluster;
  }

  #hook(name: string, node: TestNode, extra = ""): string {
    const path = `${this.dir}/${node.spec.id}-${name}.sh`;
    writeHookScript(path, this.hookLog, { extra });
    return path;
  }

  #writeNode(node: TestNode): void {
    const spec = this.spec;
    const role = node.spec.role ?? "voter";
    const meshPeers = spec.meshPeers === false ? [] : [...this.nodes.values()];
    const peers = meshPeers.filter((n) => n !== node).map((n) =>
      `    - { id: ${n.spec.id}, url: "ws://127.0.0.1:${n.port}", role: ${
        n.spec.role ?? "voter"
      } }`
    ).join("\n");
    let drivers = "drivers: []";
    if (role === "voter") {
      const pre = node.spec.prePromote === undefined
        ? ""
        : `\n    pre_promote: ${this.#hook("pre", node, node.spec.prePromote)}`;
      drivers = `drivers:\n  - type: bash\n    promote: ${
        this.#hook("promote", node, node.spec.promoteExtra ?? "")
      }\n    demote: ${this.#hook("demote", node)}${pre}\n    timeout_ms: ${
        spec.hookTimeoutMs ?? 5000
      }\n${node.spec.extraDrivers ?? ""}`;
    }
    const checks = node.spec.checks === undefined
      ? ""
      : `checks:\n${node.spec.checks}\n`;
    const yaml = `node:
  id: ${node.spec.id}
  listen: 127.0.0.1:${node.port}
  advertise: ws://127.0.0.1:${node.port}
  role: ${role}
  priority: ${node.spec.priority ?? (role === "witness" ? 0 : 100)}
cluster:
  secret_file: ${this.dir}/secret
  peers:
${peers}
  heartbeat_ms: ${spec.heartbeatMs ?? 100}
  election_timeout_ms: ${
      spec.electionTimeoutMs ?? 2 * (spec.heartbeatMs ?? 100)
    }
  preempt: ${spec.preempt ?? false}
  two_node: ${spec.twoNode ?? false}
${spec.extraCluster ?? ""}
state_dir: ${node.stateDir}
${drivers}
${checks}`;
    Deno.writeTextFileSync(node.configPath, yaml);
  }

  /** Starts one node as `deno run -q -P=clustd src/main.ts run --config ...`. */
  start(id: string, env: Record<string, string> = {}): void {
    const node = this.#node(id);
    if (node.child !== null) throw new Error(`node ${id} already runs`);
    // The PID is the daemon's (signals reach it); stderr goes to its log.
    node.child = spawnLogged(
      clustdArgv(["run", "--config", node.configPath]),
      node.logPath,
      { cwd: ROOT, env: { DEBUG: "clustd:election", NO_COLOR: "1", ...env } },
    );
  }

  /** Starts every node at the same instant. */
  startAll(): void {
    for (const id of this.nodes.keys()) this.start(id);
  }

  #node(id: string): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`unknown node ${id}`);
    return node;
  }

  /** Sends a signal to a node we started; SIGKILL/SIGTERM also reap it. */
  async signal(id: string, signal: Deno.Signal): Promise<number> {
    const node = this.#node(id);
    const child = node.child;
    if (child === null) throw new Error(`node ${id} is not running`);
    const atMs = Date.now();
    child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT") {
      await waitAtMost(child.status, EXIT_WAIT_MS);
      node.child = null;
    }
    return atMs;
  }

  /** Parsed hook log, in file order. */
  hooks(): HookLine[] {
    const text = Deno.readTextFileSync(this.hookLog);
    return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
      const [at, node, event, term, master] = line.split(" ");
      return {
        atMs: Number(at),
        node: node ?? "",
        event: event ?? "",
        term: Number(term),
        master: master ?? "",
      };
    });
  }

  /** Fetches /status of a node (null when it does not answer). */
  async status(id: string): Promise<Record<string, unknown> | null> {
    const node = this.#node(id);
    try {
      const response = await fetch(`http://127.0.0.1:${node.port}/status`, {
        signal: AbortSignal.timeout(1000),
      });
      return await response.json() as Record<string, unknown>;
    } catch (_error: unknown) {
      return null;
    }
  }

  /** Polls `predicate` every 20 ms until true or `timeoutMs`; returns whether it held. */
  waitFor(
    predicate: () => boolean | Promise<boolean>,
    timeoutMs: number,
  ): Promise<boolean> {
    return waitFor(predicate, timeoutMs);
  }

  /** Waits until `count` promote lines exist in total; returns them. */
  async waitForPromotes(count: number, timeoutMs: number): Promise<HookLine[]> {
    await this.waitFor(() => this.promotes().length >= count, timeoutMs);
    return this.promotes();
  }

  /** Promote hook lines. */
  promotes(): HookLine[] {
    return this.hooks().filter((h) => h.event === "promote");
  }

  /** A node's stderr so far (for failure messages). */
  logOf(id: string): string {
    return readLog(this.#node(id).logPath);
  }

  /** Kills every node still running (by PID) and removes the temp dir. */
  async close(keep = false): Promise<void> {
    for (const node of this.nodes.values()) {
      if (node.child === null) continue;
      await killChild(node.child, CLOSE_WAIT_MS);
      node.child = null;
    }
    if (!keep) Deno.removeSync(this.dir, { recursive: true });
  }
}

/**
 * The wall-clock end of the last lease `term`'s leader believed it held, from
 * its `lease_extended` debug lines (line time + remainingMs); null if none.
 * This is the instant after which that node may no longer act as master.
 */
export function leaseEndMs(log: string, term: number): number | null {
  let end: number | null = null;
  const pattern =
    /^(\S+) DEBUG election: lease_extended term=(\d+) .*remainingMs=(-?\d+)/;
  for (const line of log.split("\n")) {
    const match = pattern.exec(line);
    if (match === null || Number(match[2]) !== term) continue;
    const until = Date.parse(match[1]!) + Number(match[3]);
    if (end === null || until > end) end = until;
  }
  return end;
}

/**
 * Master intervals from the hook log: [promote, next demote of that node or
 * `ends[node]` (kill time) or +∞). Returns the overlapping pairs.
 */
export function overlaps(
  hooks: HookLine[],
  ends: Map<string, number[]> = new Map(),
): string[] {
  const intervals: { node: string; term: number; from: number; to: number }[] =
    [];
  const open = new Map<string, { term: number; from: number }>();
  const endsLeft = new Map(
    [...ends].map(([k, v]) => [k, [...v].sort((a, b) => a - b)]),
  );
  const closeAt = (node: string, to: number) => {
    const current = open.get(node);
    if (current === undefined) return;
    intervals.push({ node, term: current.term, from: current.from, to });
    open.delete(node);
  };
  for (const line of [...hooks].sort((a, b) => a.atMs - b.atMs)) {
    const kills = endsLeft.get(line.node) ?? [];
    while (kills.length > 0 && (kills[0] ?? Infinity) <= line.atMs) {
      closeAt(line.node, kills.shift() ?? line.atMs);
    }
    if (line.event === "promote") {
      closeAt(line.node, line.atMs);
      open.set(line.node, { term: line.term, from: line.atMs });
    } else if (line.event === "demote") {
      closeAt(line.node, line.atMs);
    }
  }
  for (const [node, current] of open) {
    const kill = endsLeft.get(node)?.find((t) => t >= current.from);
    intervals.push({
      node,
      term: current.term,
      from: current.from,
      to: kill ?? Infinity,
    });
  }
  const problems: string[] = [];
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const a = intervals[i]!;
      const b = intervals[j]!;
      if (a.node !== b.node && a.from < b.to && b.from < a.to) {
        problems.push(
          `${a.node}[t${a.term} ${a.from}..${a.to}] overlaps ${b.node}[t${b.term} ${b.from}..${b.to}]`,
        );
      }
    }
  }
  return problems;
}
