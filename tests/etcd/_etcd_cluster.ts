/**
 * A real three-member etcd cluster for tests: Debian's `etcd` on loopback
 * addresses 127.15.X.1..3 (X random per cluster, so runs never share a port),
 * data dirs in a temp dir, fast raft timings. Members are killed by PID and
 * the temp dir removed in `stop()`, which callers run in `finally`.
 */
import {
  killChild,
  readLog,
  sleep,
  spawnLogged,
  waitFor,
} from "../_process.ts";

/** Raft heartbeat of the test members (etcd's default is 100 ms). */
const HEARTBEAT_MS = 25;
/** Raft election timeout of the test members (etcd's default is 1000 ms). */
const ELECTION_MS = 250;
/** Longest a member may take to serve requests after start. */
const READY_MS = 15_000;

/** One etcd member of a test cluster. */
export interface EtcdMember {
  name: string;
  host: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logPath: string;
  child: Deno.ChildProcess | null;
}

/** Starts member `index`'s argv with stderr appended to `logPath`. */
export type EtcdSpawn = (
  index: number,
  argv: string[],
  logPath: string,
) => Deno.ChildProcess;

/** POSTs JSON where member `index` runs; the JSON answer or null. */
export type EtcdPost = (
  index: number,
  url: string,
  body: unknown,
) => Promise<Record<string, unknown> | null>;

/** Options of `startEtcdCluster()`. */
export interface EtcdClusterOptions {
  /** Members (default 3). */
  size?: number;
  /** Base address `127.15.X.` (default: X random). */
  hostPrefix?: string;
  /** Member addresses (default: on loopback from hostPrefix). */
  hosts?: string[];
  /** How to start a member (default: on this host). */
  spawn?: EtcdSpawn;
  /** How to reach a member's API (default: fetch from this host). */
  post?: EtcdPost;
}

/** Whether Debian's etcd is installed (tests skip with a message otherwise). */
export function etcdInstalled(): boolean {
  try {
    return Deno.statSync("/usr/bin/etcd").isFile;
  } catch (_error: unknown) {
    return false; // Not installed: .ci/run installs etcd-server.
  }
}

/** A running etcd cluster owned by one test. */
export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly dir: string;
  readonly #spawn: EtcdSpawn;
  readonly #post: EtcdPost;

  constructor(
    members: EtcdMember[],
    dir: string,
    options: { spawn: EtcdSpawn; post: EtcdPost },
  ) {
    this.members = members;
    this.dir = dir;
    this.#spawn = options.spawn;
    this.#post = options.post;
  }

  /** Client URLs of all members. */
  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  /** Starts member `index` (again); its data dir is kept. */
  start(index: number): void {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no etcd member ${index}`);
    if (member.child !== null) return;
    const initial = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    member.child = this.#spawn(
      index,
      [
        "/usr/bin/etcd",
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=${member.clientUrl}`,
        `--advertise-client-urls=${member.clientUrl}`,
        `--listen-peer-urls=${member.peerUrl}`,
        `--initial-advertise-peer-urls=${member.peerUrl}`,
        `--initial-cluster=${initial}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=clustd-test",
        `--heartbeat-interval=${HEARTBEAT_MS}`,
        `--election-timeout=${ELECTION_MS}`,
        "--log-level=warn",
        "--logger=zap",
      ],
      member.logPath,
    );
  }

  /** SIGKILLs member `index` (by its PID) and waits for it to exit. */
  async kill(index: number): Promise<void> {
    const member = this.members[index];
    if (member?.child == null) return;
    await killChild(member.child, 5000);
    member.child = null;
  }

  /** Index of the current raft leader, or -1 when none answers. */
  async leaderIndex(): Promise<number> {
    for (const [index, member] of this.members.entries()) {
      if (member.child === null) continue;
      const status = await this.#post(
        index,
        `${member.clientUrl}/v3/maintenance/status`,
        {},
      );
      if (status === null) continue;
      const leader = String(status["leader"] ?? "");
      const header = status["header"] as Record<string, unknown> | undefined;
      if (leader !== "" && leader === String(header?.["member_id"] ?? "")) {
        return index;
      }
    }
    return -1;
  }

  /** Waits until every running member answers a linearizable read. */
  async waitReady(timeoutMs = READY_MS): Promise<void> {
    const ok = await waitFor(async () => {
      for (const member of this.members) {
        if (member.child === null) continue;
        const range = await this.#post(
          this.members.indexOf(member),
          `${member.clientUrl}/v3/kv/range`,
          { key: btoa("ready") },
        );
        if (range === null) return false;
      }
      return true;
    }, timeoutMs);
    if (!ok) {
      const logs = this.members.map((m) => readLog(m.logPath).slice(-800));
      throw new Error(`etcd did not become ready:\n${logs.join("\n---\n")}`);
    }
  }

  /** Kills every member and removes the data dirs. */
  async stop(): Promise<void> {
    for (const index of this.members.keys()) await this.kill(index);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** POSTs JSON from this host; null on any failure (down, timeout, non-200). */
async function fetchPost(
  _index: number,
  url: string,
  body: unknown,
): Promise<Record<string, unknown> | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(1000),
    });
    const json = await response.json();
    return response.ok ? json as Record<string, unknown> : null;
  } catch (_error: unknown) {
    return null; // Down or slow: the caller polls again.
  }
}

/** Starts a fresh cluster and waits until it serves; stops it again on failure. */
export async function startEtcdCluster(
  options: EtcdClusterOptions = {},
): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  const prefix = options.hostPrefix ??
    `127.15.${1 + Math.floor(Math.random() * 250)}.`;
  const dir = await Deno.makeTempDir({ prefix: "clustd-etcd-" });
  const members: EtcdMember[] = [];
  for (let i = 1; i <= size; i++) {
    const host = options.hosts?.[i - 1] ?? `${prefix}${i}`;
    members.push({
      name: `e${i}`,
      host,
      clientUrl: `http://${host}:2379`,
      peerUrl: `http://${host}:2380`,
      dataDir: `${dir}/e${i}`,
      logPath: `${dir}/e${i}.log`,
      child: null,
    });
  }
  const cluster = new EtcdCluster(members, dir, {
    spawn: options.spawn ??
      ((_index, argv, logPath) => spawnLogged(argv, logPath)),
    post: options.post ?? fetchPost,
  });
  try {
    for (const index of members.keys()) cluster.start(index);
    await cluster.waitReady();
  } catch (error: unknown) {
    await cluster.stop();
    throw error;
  }
  await sleep(0);
  return cluster;
}
