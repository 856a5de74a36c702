/**
 * clustd on the network-namespace test hosts: one `clustd run` per namespace
 * (started exactly like `deno task clustd run`, through `ip netns exec`, which
 * execs deno so the child's PID is the daemon's), listening on the host's
 * 198.18.0.x address, priorities 100/90/80 like the keepalived setup, and a
 * bash driver whose hooks append `<ms epoch> <node> <event> <term> <master>`
 * to one shared log (the e2e harness's format).
 *
 * Owns its temp dir and the processes it started; kills only those, by PID.
 */
import { daemonFlags } from "../../tools/flags.ts";
import type { Host, Topology } from "../netns/_topology.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}src/main.ts`;
/** Port every node listens on (each namespace has its own port space). */
export const CLUSTD_PORT = 7400;
/** Priorities given to hosts n1, n2, n3, ... (then lower, down to 10). */
export const CLUSTD_PRIORITIES = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10];
const EXIT_WAIT_MS = 20_000;
const LEASE_FRACTION = 0.9;

/** Options of `ClustdNetnsCluster.create()`. */
export interface ClustdNetnsOptions {
  heartbeatMs: number;
  /** Default 2 × heartbeat (DESIGN §1). */
  electionTimeoutMs?: number;
  /** Hook script timeout. */
  hookTimeoutMs?: number;
}

interface Node {
  host: Host;
  configPath: string;
  stateDir: string;
  logPath: string;
  child: Deno.ChildProcess | null;
}

/** Waits for `promise` at most `ms`, leaving no timer behind. */
async function waitAtMost(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) =>
    timer = setTimeout(resolve, ms)
  );
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

/** clustd on every host of a topology; implements the bench's FailoverCluster shape. */
export class ClustdNetnsCluster {
  readonly tool = "clustd";
  readonly dir: string;
  readonly hookLogPath: string;
  readonly hosts: readonly string[];
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** The default lease (0.9 E): a master acts as master no longer than this after its last ack. */
  readonly leaseMs: number;
  readonly #topology: Topology;
  readonly #nodes = new Map<string, Node>();

  private constructor(topology: Topology, options: ClustdNetnsOptions) {
    this.#topology = topology;
    this.heartbeatMs = options.heartbeatMs;
    this.electionTimeoutMs = options.electionTimeoutMs ??
      2 * options.heartbeatMs;
    this.leaseMs = Math.floor(LEASE_FRACTION * this.electionTimeoutMs);
    this.dir = Deno.makeTempDirSync({ prefix: "clustd-bench-netns-" });
    this.hookLogPath = `${this.dir}/hooks.log`;
    this.hosts = topology.hosts.map((h) => h.name);
    Deno.writeTextFileSync(this.hookLogPath, "");
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    Deno.writeTextFileSync(
      `${this.dir}/secret`,
      btoa(String.fromCharCode(...bytes)) + "\n",
      {
        mode: 0o600,
      },
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
        stateDir: `${this.dir}/state-${host.name}`,
        logPath: `${this.dir}/${host.name}.log`,
        child: null,
      };
      Deno.writeTextFileSync(
        node.configPath,
        this.#config(node, hook, options),
      );
      this.#nodes.set(host.name, node);
    }
  }

  /** Writes configs for every host of `topology`; starts nothing. */
  static create(
    topology: Topology,
    options: ClustdNetnsOptions,
  ): ClustdNetnsCluster {
    return new ClustdNetnsCluster(topology, options);
  }

  #priority(host: Host): number {
    return CLUSTD_PRIORITIES[this.#topology.hosts.indexOf(host)] ?? 10;
  }

  #config(node: Node, hook: string, options: ClustdNetnsOptions): string {
    const peers = this.#topology.hosts.filter((h) => h !== node.host).map((h) =>
      `    - { id: ${h.name}, url: "ws://${h.address}:${CLUSTD_PORT}", role: voter, priority: ${
        this.#priority(h)
      } }`
    ).join("\n");
    return `node:
  id: ${node.host.name}
  listen: ${node.host.address}:${CLUSTD_PORT}
  advertise: ws://${node.host.address}:${CLUSTD_PORT}
  role: voter
  priority: ${this.#priority(node.host)}
cluster:
  secret_file: ${this.dir}/secret
  peers:
${peers}
  heartbeat_ms: ${this.heartbeatMs}
  election_timeout_ms: ${this.electionTimeoutMs}
  preempt: false
  two_node: false
state_dir: ${node.stateDir}
drivers:
  - type: bash
    promote: ${hook}
    demote: ${hook}
    timeout_ms: ${options.hookTimeoutMs ?? 5000}
`;
  }

  #node(host: string): Node {
    const node = this.#nodes.get(host);
    if (node === undefined) throw new Error(`Unknown host "${host}"`);
    return node;
  }

  /** Starts `clustd run` on `host` inside its namespace. */
  start(host: string): void {
    const node = this.#node(host);
    if (node.child !== null) throw new Error(`clustd on ${host} already runs`);
    const child = this.#topology.spawn(node.host, [
      Deno.execPath(),
      "run",
      ...daemonFlags(),
      MAIN,
      "run",
      "--config",
      node.configPath,
    ], {
      cwd: ROOT,
      env: { DEBUG: "clustd:election", NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    });
    const file = Deno.openSync(node.logPath, {
      append: true,
      create: true,
      write: true,
    });
    child.stderr.pipeTo(file.writable).catch((error: unknown) => {
      console.error(`clustd ${host} log: ${String(error)}`);
    });
    node.child = child;
  }

  /** Whether the node runs (started by us and not killed or exited). */
  running(host: string): boolean {
    return this.#node(host).child !== null;
  }

  /** The PID of the daemon on `host` (the deno process itself), or null. */
  pid(host: string): number | null {
    return this.#node(host).child?.pid ?? null;
  }

  /** Sends `signal` to the daemon; SIGKILL/SIGTERM also reap it. Returns the wall-clock ms sent. */
  async signal(host: string, signal: Deno.Signal): Promise<number> {
    const node = this.#node(host);
    const child = node.child;
    if (child === null) throw new Error(`clustd on ${host} is not running`);
    const atMs = Date.now();
    child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      await waitAtMost(child.status, EXIT_WAIT_MS);
      node.child = null;
    }
    return atMs;
  }

  /** The node's stderr so far (for failure messages). */
  logOf(host: string): string {
    try {
      return Deno.readTextFileSync(this.#node(host).logPath);
    } catch (_error: unknown) {
      return "";
    }
  }

  /** Kills every node still running (by PID) and removes the temp dir. */
  async close(keep = false): Promise<void> {
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
    if (!keep) Deno.removeSync(this.dir, { recursive: true });
  }
}
