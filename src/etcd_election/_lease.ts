/**
 * This node's etcd lease as its own clock sees it: granted, renewed
 * RENEWS_PER_TTL times per TTL with one keepalive in flight at most, and
 * valid until (send time of the keepalive that renewed it) + T/(1+ρ)². The
 * send time, not the answer's arrival, is what counts: etcd may have
 * received the renewal any time after it left, never before. Pure; owns
 * no decision about mastership.
 */

import { assert } from "../election/assert.ts";

/** Clock-rate drift the lease is discounted by (ρ = 1%, as the mesh lease). */
export const CLOCK_DRIFT_RHO = 0.01;
/** Keepalives sent per lease TTL. */
export const RENEWS_PER_TTL = 6;

interface Held {
  id: string;
  untilMs: number;
  renewSentMs: number | null;
  lastRenewSentMs: number;
}

/** What to ask etcd for next, if anything. */
export type LeaseRequest =
  | { kind: "grant"; ttlSec: number }
  | { kind: "keepalive"; leaseId: string };

/** Lease bookkeeping of one node. */
export class LeaseKeeper {
  readonly #ttlMs: number;
  readonly renewEveryMs: number;
  #held: Held | null = null;
  #grantSentMs: number | null = null;
  #grantRetryMs = 0;

  constructor(ttlMs: number) {
    assert(ttlMs >= 1000 && ttlMs % 1000 === 0, "ttl must be whole seconds");
    this.#ttlMs = ttlMs;
    this.renewEveryMs = ttlMs / RENEWS_PER_TTL;
  }

  /** The lease id while we hold one (valid or not yet dropped). */
  get id(): string | null {
    return this.#held?.id ?? null;
  }

  /** End of validity on our clock; −∞ without a lease. */
  get untilMs(): number {
    return this.#held?.untilMs ?? Number.NEGATIVE_INFINITY;
  }

  /** How long a lease renewed with `ttlSec` is valid from its send time. */
  #validMs(ttlSec: number): number {
    const ttlMs = Math.min(ttlSec * 1000, this.#ttlMs);
    return ttlMs / (1 + CLOCK_DRIFT_RHO) ** 2;
  }

  /** The grant or keepalive due at `nowMs` (marked as sent), or null. */
  due(nowMs: number): LeaseRequest | null {
    const held = this.#held;
    if (held === null) {
      if (this.#grantSentMs !== null || nowMs < this.#grantRetryMs) return null;
      this.#grantSentMs = nowMs;
      return { kind: "grant", ttlSec: this.#ttlMs / 1000 };
    }
    if (held.renewSentMs !== null) return null;
    if (nowMs < held.lastRenewSentMs + this.renewEveryMs) return null;
    held.renewSentMs = nowMs;
    held.lastRenewSentMs = nowMs;
    return { kind: "keepalive", leaseId: held.id };
  }

  /** A grant answered; returns false when the lease is not wanted (revoke it). */
  granted(nowMs: number, leaseId: string, ttlSec: number): boolean {
    const sentMs = this.#grantSentMs ?? nowMs;
    this.#grantSentMs = null;
    if (ttlSec <= 0 || this.#held !== null) return false;
    this.#held = {
      id: leaseId,
      untilMs: sentMs + this.#validMs(ttlSec),
      renewSentMs: null,
      lastRenewSentMs: sentMs,
    };
    return true;
  }

  /** A grant failed: try again one renewal interval later. */
  grantFailed(nowMs: number): void {
    this.#grantSentMs = null;
    this.#grantRetryMs = nowMs + this.renewEveryMs;
  }

  /**
   * A keepalive answered: extends validity from its send time. Returns
   * "gone" when etcd no longer has the lease (it is dropped here), "stale"
   * for an answer about another lease.
   */
  renewed(leaseId: string, ttlSec: number): "ok" | "gone" | "stale" {
    const held = this.#held;
    if (held === null || held.id !== leaseId || held.renewSentMs === null) {
      return "stale";
    }
    const sentMs = held.renewSentMs;
    held.renewSentMs = null;
    if (ttlSec <= 0) {
      this.#held = null;
      return "gone";
    }
    held.untilMs = Math.max(held.untilMs, sentMs + this.#validMs(ttlSec));
    return "ok";
  }

  /** A keepalive failed; the next is sent at its regular time. */
  renewFailed(leaseId: string): void {
    if (this.#held?.id === leaseId) this.#held.renewSentMs = null;
  }

  /** Forgets the lease; returns its id for a revoke (null when none). */
  drop(): string | null {
    const id = this.#held?.id ?? null;
    this.#held = null;
    return id;
  }

  /** Next time `due()` could return a request. */
  nextWakeMs(): number {
    const held = this.#held;
    if (held === null) {
      return this.#grantSentMs === null ? this.#grantRetryMs : Infinity;
    }
    const renewMs = held.renewSentMs === null
      ? held.lastRenewSentMs + this.renewEveryMs
      : Infinity;
    return Math.min(renewMs, held.untilMs);
  }
}
