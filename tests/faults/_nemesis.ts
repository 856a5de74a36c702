/**
 * The nemesis: seeded random faults against a ClustdNetnsCluster. A round picks one
 * fault (sometimes two at once, on different nodes), holds it for a random
 * time, then heals everything (SIGCONT, drop rules removed, links up, dead
 * daemons restarted), waits until every daemon is up and records the heal
 * time for the checker. Faults aim at the current master half of the time.
 *
 * Every loop is bounded in count and time; it signals only the daemons the
 * cluster started. Deciding whether the cluster behaved is the checker's job.
 */
import { sleep } from "../_process.ts";
import type { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { READY_MS } from "./_timing.ts";

/** The kinds of fault the nemesis injects. */
export type FaultKind =
  | "partition"
  | "one_way"
  | "flap"
  | "kill"
  | "stop"
  | "term";
/** Every kind, in report order. */
export const FAULT_KINDS: readonly FaultKind[] = [
  "partition",
  "one_way",
  "flap",
  "kill",
  "stop",
  "term",
];
const SECOND_FAULT_PROBABILITY = 0.3;
const MASTER_TARGET_PROBABILITY = 0.5;
const FLAPS_MIN = 3;
const FLAPS_MAX = 8;

/** A small seeded PRNG (mulberry32): the same seed replays the same choices. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of a Nemesis. */
export interface NemesisOptions {
  seed: number;
  /** Kinds to draw from (default all). */
  kinds?: readonly FaultKind[];
  /** Longest a fault is held, default 4 E. */
  holdMaxMs?: number;
  /** Quiet time after each heal (≥ the liveness bound, so it can be judged). */
  settleMs: number;
  /** Progress lines (default: none). */
  log?: (message: string) => void;
}

/** One injected fault, for the run's record. */
export interface InjectedFault {
  kind: FaultKind;
  node: string;
  atMs: number;
  detail: string;
}

/** Injects random faults into `cluster`; see the module comment. */
export class Nemesis {
  readonly counts = new Map<FaultKind, number>(
    FAULT_KINDS.map((k) => [k, 0]),
  );
  /** Times every node was up again with the network whole. */
  readonly heals: number[] = [];
  readonly injected: InjectedFault[] = [];
  readonly #cluster: ClustdNetnsCluster;
  readonly #random: () => number;
  readonly #kinds: readonly FaultKind[];
  readonly #holdMaxMs: number;
  readonly #settleMs: number;
  readonly #log: (message: string) => void;

  constructor(cluster: ClustdNetnsCluster, options: NemesisOptions) {
    this.#cluster = cluster;
    this.#random = prng(options.seed);
    this.#kinds = options.kinds ?? FAULT_KINDS;
    this.#holdMaxMs = options.holdMaxMs ?? 4 * cluster.electionTimeoutMs;
    this.#settleMs = options.settleMs;
    this.#log = options.log ?? (() => {});
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#random() * items.length)];
    if (item === undefined) throw new Error("Nothing to pick from");
    return item;
  }

  #between(minMs: number, maxMs: number): number {
    return Math.round(minMs + this.#random() * (maxMs - minMs));
  }

  #target(exclude: ReadonlySet<string>): string | null {
    const master = this.#cluster.currentMaster();
    if (
      master !== null && !exclude.has(master) &&
      this.#random() < MASTER_TARGET_PROBABILITY
    ) return master;
    const free = this.#cluster.hosts.filter((n) => !exclude.has(n));
    return free.length === 0 ? null : this.#pick(free);
  }

  /** One round: inject, hold, heal, settle. */
  async round(): Promise<void> {
    const used = new Set<string>();
    const faults = this.#random() < SECOND_FAULT_PROBABILITY ? 2 : 1;
    const holdMs = this.#between(
      this.#cluster.electionTimeoutMs / 4,
      this.#holdMaxMs,
    );
    const flaps: Promise<void>[] = [];
    for (let i = 0; i < faults; i++) {
      const node = this.#target(used);
      if (node === null) break;
      used.add(node);
      const kind = this.#pick(this.#kinds);
      const flap = await this.#inject(kind, node, holdMs);
      if (flap !== null) flaps.push(flap.done);
    }
    await sleep(holdMs);
    await Promise.all(flaps);
    await this.healAll();
    await sleep(this.#settleMs);
  }

  async #inject(
    kind: FaultKind,
    node: string,
    holdMs: number,
  ): Promise<{ done: Promise<void> } | null> {
    const cluster = this.#cluster;
    const topology = cluster.topology;
    let detail = "";
    // Wrapped: an async function would flatten a returned promise.
    let flap: { done: Promise<void> } | null = null;
    if (kind === "partition") {
      await topology.isolate(node);
      detail = "isolated both ways";
    } else if (kind === "one_way") {
      const inbound = this.#random() < 0.5;
      for (const other of cluster.hosts.filter((n) => n !== node)) {
        if (inbound) await topology.partition(other, node, { oneWay: true });
        else await topology.partition(node, other, { oneWay: true });
      }
      detail = inbound ? "can send, cannot receive" : "can receive, not send";
    } else if (kind === "flap") {
      const count = this.#between(FLAPS_MIN, FLAPS_MAX);
      const halfMs = Math.round(cluster.electionTimeoutMs / 2);
      flap = { done: this.#flap(node, count, halfMs) };
      detail = `${count} × (down ${halfMs} ms, up ${halfMs} ms)`;
    } else if (!cluster.running(node)) {
      return null;
    } else if (kind === "kill") {
      await cluster.kill(node);
      detail = `restart after ${holdMs} ms`;
    } else if (kind === "stop") {
      if (cluster.stopped(node)) return null;
      cluster.stop(node);
      detail = `SIGCONT after ${holdMs} ms`;
    } else {
      if (cluster.stopped(node)) return null;
      const code = await cluster.term(node);
      detail = `exited ${code ?? "killed after the exit wait"}`;
    }
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.injected.push({ kind, node, atMs: Date.now(), detail });
    this.#log(`fault ${kind} on ${node}: ${detail}`);
    return flap;
  }

  async #flap(node: string, count: number, halfMs: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await this.#cluster.topology.linkDown(node);
      await sleep(halfMs);
      await this.#cluster.topology.linkUp(node);
      await sleep(halfMs);
    }
  }

  /** Continues stopped daemons, heals the network, restarts dead ones, records the heal. */
  async healAll(): Promise<void> {
    const cluster = this.#cluster;
    for (const name of cluster.hosts) {
      if (cluster.stopped(name)) cluster.cont(name);
    }
    await cluster.topology.heal();
    cluster.startAll();
    if (!await cluster.waitReady(READY_MS)) {
      throw new Error(
        `A daemon did not start within ${READY_MS} ms after a heal`,
      );
    }
    this.heals.push(Date.now());
  }
}
