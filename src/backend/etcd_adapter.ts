/**
 * Lets the daemon drive the etcd election exactly like the mesh core: the
 * same `step(input) → effects`, `status(now)` and `nextWakeMs()`. Inputs the
 * etcd election has no use for (mesh messages, peer links) are dropped;
 * effects that follow an etcd answer arrive later through `onEffects`, in
 * order. Decides nothing itself.
 */

import type { Config } from "../config/types.ts";
import type { Effect, ElectionStatus, Input } from "../election/types.ts";
import type { EtcdCommand } from "../etcd_election/types.ts";
import { EtcdBackend } from "./etcd_backend.ts";

/** Options of the adapter. */
export interface EtcdAdapterOptions {
  startMs: number;
  now: () => number;
  /** Some driver has a pre_promote hook: winning waits for its verdict. */
  prePromote: boolean;
  /** Effects produced outside `step()` (etcd answers, the watch, timers). */
  onEffects: (effects: Effect[]) => void;
}

/** The etcd election behind the mesh core's interface. */
export class EtcdElectionAdapter {
  readonly #backend: EtcdBackend;
  readonly #onEffects: (effects: Effect[]) => void;
  #collecting: Effect[] | null = null;

  constructor(config: Config, options: EtcdAdapterOptions) {
    const etcd = config.cluster.etcd;
    if (etcd === undefined) {
      throw new Error("backend etcd without cluster.etcd");
    }
    this.#onEffects = options.onEffects;
    this.#backend = new EtcdBackend({
      selfId: config.node.id,
      role: config.node.role,
      priority: config.node.priority,
      ttlMs: etcd.ttlMs,
      rankDelayMs: config.cluster.rankDelayMs,
      startMs: options.startMs,
      preempt: config.cluster.preempt,
      preemptDelayMs: config.cluster.preemptDelayMs,
      minHoldMs: config.cluster.minHoldMs,
      prePromote: options.prePromote,
      // The daemon tells the drivers `demote` (reason `start`) itself.
      startDemote: true,
      prefix: etcd.prefix,
      now: options.now,
      client: {
        endpoints: etcd.endpoints,
        ...(etcd.username === undefined ? {} : { username: etcd.username }),
        ...(etcd.password === undefined ? {} : { password: etcd.password }),
        ...(etcd.caCert === undefined ? {} : { caCert: etcd.caCert }),
        ...(etcd.cert === undefined ? {} : { cert: etcd.cert }),
        ...(etcd.key === undefined ? {} : { key: etcd.key }),
      },
    }, {
      promote: (term, reason) => this.#emit({ kind: "promote", term, reason }),
      demote: (term, reason, handover) =>
        this.#emit({ kind: "demote", term, reason, handover }),
      reply: (requestId, ok, message) =>
        this.#emit({ kind: "reply", requestId, ok, message }),
      prePromote: (term) => this.#emit({ kind: "pre_promote", term }),
      log: (effect) => this.#emit(effect),
    });
  }

  /** Starts the lease, the watch and the backend's own timer. */
  start(): void {
    this.#collect(() => this.#backend.start());
  }

  /** Feeds one daemon input; returns the effects it caused at once. */
  step(input: Input): Effect[] {
    return this.#collect(() => {
      switch (input.kind) {
        case "check":
          return this.#backend.check(input.healthy);
        case "command":
          return this.#backend.command(
            input.requestId,
            input.command as EtcdCommand,
          );
        case "demote_done":
          return this.#backend.demoteDone(input.term);
        case "start_demote_done":
          return this.#backend.startDemoteDone();
        case "pre_promote_result":
          return this.#backend.prePromoteResult(input.term, input.ok);
        default:
          // Time is the backend's own; mesh messages and links do not
          // count, and the pause flag lives in etcd (see setPaused).
          return;
      }
    });
  }

  /** Writes the cluster's pause flag to etcd; answers the CLI. */
  setPaused(paused: boolean): Promise<{ ok: boolean; message: string }> {
    return this.#backend.setPaused(paused);
  }

  /** Status in the mesh core's shape. */
  status(_nowMs: number): ElectionStatus {
    return this.#backend.status();
  }

  /** The backend keeps its own timer: the daemon need not wake for it. */
  nextWakeMs(): number {
    return Infinity;
  }

  /** Stops the watch and timers after requests in flight (a resign, a revoke). */
  stop(): Promise<void> {
    return this.#backend.stop();
  }

  #collect(work: () => void): Effect[] {
    const outer = this.#collecting;
    const effects: Effect[] = [];
    this.#collecting = effects;
    try {
      work();
    } finally {
      this.#collecting = outer;
    }
    return effects;
  }

  #emit(effect: Effect): void {
    if (this.#collecting !== null) this.#collecting.push(effect);
    else this.#onEffects([effect]);
  }
}
