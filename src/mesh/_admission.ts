/**
 * Admission control for unauthenticated connections, checked before a
 * WebSocket is even accepted: caps on handshakes in progress (in total and
 * per source, IPv6 by /64), and token buckets on new handshakes per source
 * and in total, since each hello costs about 1 ms of CPU (X25519, HKDF,
 * HMACs) before the client proves anything. Counts only; the caller
 * refuses, logs and gives the slot back once the connection is gone or
 * authenticated.
 */

import { SourceSlots } from "../source_slots.ts";

/** Connections still in their handshake, over all sources. */
export const UNAUTHENTICATED_TOTAL_MAX = 64;
/** Connections still in their handshake from one source. */
export const UNAUTHENTICATED_PER_SOURCE_MAX = 16;
/** New handshakes a second from one source (sustained). */
export const HANDSHAKES_PER_SOURCE_PER_SECOND = 20;
/** New handshakes one source may start at once before the rate applies. */
export const HANDSHAKE_BURST_PER_SOURCE = 40;
/** New handshakes a second over all sources: at ~1 ms each, ≤ 20% of a core. */
export const HANDSHAKES_PER_SECOND_MAX = 200;
/** Sources whose token buckets are kept; the oldest is forgotten first. */
export const RATE_SOURCES_TRACKED_MAX = 4096;

/** Why a handshake was not admitted (a metrics label). */
export type AdmissionRefusal =
  | "handshakes_total"
  | "handshakes_per_source"
  | "rate_per_source"
  | "rate_total";

/** Limits of one `Admission`, defaults above. */
export interface AdmissionLimits {
  totalMax?: number;
  perSourceMax?: number;
  perSourcePerSecond?: number;
  burstPerSource?: number;
  perSecondMax?: number;
}

/** A token bucket refilled continuously. */
class Bucket {
  #tokens: number;
  #updatedMs: number;

  constructor(capacity: number, nowMs: number) {
    this.#tokens = capacity;
    this.#updatedMs = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number, perSecond: number, capacity: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs);
    this.#tokens = Math.min(
      capacity,
      this.#tokens + (elapsedMs * perSecond) / 1000,
    );
    this.#updatedMs = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Tracks handshakes in progress and handshake rates per source. */
export class Admission {
  readonly #slots: SourceSlots;
  #rates = new Map<string, Bucket>();
  #overall: Bucket | undefined;
  readonly #l: Required<AdmissionLimits>;

  constructor(limits: AdmissionLimits = {}) {
    this.#l = {
      totalMax: limits.totalMax ?? UNAUTHENTICATED_TOTAL_MAX,
      perSourceMax: limits.perSourceMax ?? UNAUTHENTICATED_PER_SOURCE_MAX,
      perSourcePerSecond: limits.perSourcePerSecond ??
        HANDSHAKES_PER_SOURCE_PER_SECOND,
      burstPerSource: limits.burstPerSource ?? HANDSHAKE_BURST_PER_SOURCE,
      perSecondMax: limits.perSecondMax ?? HANDSHAKES_PER_SECOND_MAX,
    };
    this.#slots = new SourceSlots(this.#l.totalMax, this.#l.perSourceMax);
  }

  /**
   * Admits one more handshake from `source` at `nowMs`: its release
   * (idempotent), or why not.
   */
  tryAdmit(source: string, nowMs: number): (() => void) | AdmissionRefusal {
    const l = this.#l;
    const cap = this.#slots.refusal(source);
    if (cap === "total") return "handshakes_total";
    if (cap === "per_source") return "handshakes_per_source";
    if (
      !this.#bucket(source, nowMs).take(
        nowMs,
        l.perSourcePerSecond,
        l.burstPerSource,
      )
    ) return "rate_per_source";
    this.#overall ??= new Bucket(l.perSecondMax, nowMs);
    if (!this.#overall.take(nowMs, l.perSecondMax, l.perSecondMax)) {
      return "rate_total";
    }
    const release = this.#slots.take(source);
    // The caps were checked just above, in the same turn.
    if (typeof release !== "function") return "handshakes_total";
    return release;
  }

  /** Handshakes currently admitted. */
  get total(): number {
    return this.#slots.total;
  }

  #bucket(source: string, nowMs: number): Bucket {
    let bucket = this.#rates.get(source);
    if (bucket !== undefined) {
      // Re-insert so the map's order is least recently used first.
      this.#rates.delete(source);
    } else {
      bucket = new Bucket(this.#l.burstPerSource, nowMs);
      if (this.#rates.size >= RATE_SOURCES_TRACKED_MAX) {
        const oldest = this.#rates.keys().next().value;
        if (oldest !== undefined) this.#rates.delete(oldest);
      }
    }
    this.#rates.set(source, bucket);
    return bucket;
  }
}
