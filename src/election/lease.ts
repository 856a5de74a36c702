/**
 * The leader lease: heartbeat round r, sent at t_s on the leader's monotonic
 * clock, makes the lease valid until t_s + L once a majority (self included)
 * acked round r. Voters that acked refuse votes for E after hearing the
 * round, and L < E/(1+ρ)², so no other node can be elected while it holds.
 * Owns round bookkeeping only; never decides to promote or demote.
 */

import { assert } from "./assert.ts";

/** Largest step-down margin, in heartbeats (see stepDownMarginMs). */
export const STEP_DOWN_MARGIN_HEARTBEATS = 0.5;

/**
 * Silence a master must survive without stepping down, beyond the lost round
 * itself, in heartbeats (acks in flight, a late tick).
 */
const RENEWAL_SLACK_HEARTBEATS = 0.25;

/**
 * M: a leader steps down (and demotes) once its lease has less than M left
 * without a renewal, instead of at its very end. A demote driver then has
 * E − L + M (less drift) to finish before any other node can promote: a new
 * master needs a voter whose refusal window E ran out, and that window
 * started no earlier than the last round that extended the lease. M is h/2,
 * but never so large that a master would step down while one lost round is
 * made good by the next one: L − h − M stays at least h/4, else M shrinks
 * (to 0 when L ≤ 1.25·h).
 */
export function stepDownMarginMs(heartbeatMs: number, leaseMs: number): number {
  const most = STEP_DOWN_MARGIN_HEARTBEATS * heartbeatMs;
  const keepsOneLostRound = leaseMs -
    (1 + RENEWAL_SLACK_HEARTBEATS) * heartbeatMs;
  return Math.max(0, Math.min(most, keepsOneLostRound));
}

/** Rounds kept awaiting acks; older rounds cannot extend a lease anyway. */
export const LEASE_ROUNDS_MAX = 16;

interface Round {
  sentMs: number;
  acks: Set<string>;
}

/** Lease bookkeeping of one leader term. */
export class Lease {
  readonly #quorum: number;
  readonly #leaseMs: number;
  readonly #rounds = new Map<number, Round>();
  #nextRound = 1;
  #untilMs = Number.NEGATIVE_INFINITY;
  #acquired = false;

  /** `quorum` acks (self included) per round; each lease lasts `leaseMs`. */
  constructor(quorum: number, leaseMs: number) {
    assert(quorum >= 1 && leaseMs > 0, "lease needs quorum ≥ 1 and L > 0");
    this.#quorum = quorum;
    this.#leaseMs = leaseMs;
  }

  /** Opens a round sent now, acked by the leader itself; returns its number. */
  startRound(nowMs: number, selfId: string): number {
    const round = this.#nextRound++;
    this.#rounds.set(round, { sentMs: nowMs, acks: new Set() });
    while (this.#rounds.size > LEASE_ROUNDS_MAX) {
      const oldest = this.#rounds.keys().next().value;
      if (oldest === undefined) break;
      this.#rounds.delete(oldest);
    }
    this.ack(round, selfId);
    return round;
  }

  /** Records an ack; returns true when it extended the lease. */
  ack(round: number, from: string): boolean {
    const entry = this.#rounds.get(round);
    if (entry === undefined) return false;
    entry.acks.add(from);
    if (entry.acks.size < this.#quorum) return false;
    // This round has a majority: it and every older round are settled.
    for (const key of [...this.#rounds.keys()]) {
      if (key <= round) this.#rounds.delete(key);
    }
    const untilMs = entry.sentMs + this.#leaseMs;
    if (untilMs <= this.#untilMs) return false;
    this.#untilMs = untilMs;
    this.#acquired = true;
    return true;
  }

  /** True once any round gathered a majority in this term. */
  get acquired(): boolean {
    return this.#acquired;
  }

  /** End of the lease on the leader's clock (−∞ before the first majority). */
  get untilMs(): number {
    return this.#untilMs;
  }

  /** True while the lease holds at `nowMs`. */
  validAt(nowMs: number): boolean {
    return nowMs < this.#untilMs;
  }
}
