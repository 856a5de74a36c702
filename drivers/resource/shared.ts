/**
 * Memory the daemon shares with the Worker of a resource driver (vip,
 * floating_ip), so that two questions need no message round trip:
 *
 * - The fence: is this node still master in term T, right now? The daemon
 *   writes its role the moment it decides (before the driver's queue even
 *   sees the event); the Worker reads it synchronously before every program
 *   run or API call, so a stale master's late call is never sent.
 * - The counters: repairs, announcements, API calls, errors and latency,
 *   written by the Worker, read by /metrics without asking the Worker.
 *
 * Types and plain memory access only; no I/O.
 */

/** Role written by the daemon: not master, or master in `term`. */
export class Fence {
  /** [0] = term, [1] = 1 while master in that term, else 0. */
  readonly #cells: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new BigInt64Array(buffer);
  }

  /** A fresh shared buffer for one driver (starts "not master"). */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
  }

  /** Daemon side: master from now on, in `term`. */
  promote(term: number): void {
    Atomics.store(this.#cells, 0, BigInt(term));
    Atomics.store(this.#cells, 1, 1n);
  }

  /** Daemon side: not master from now on. Cleared before the term moves. */
  demote(term: number): void {
    Atomics.store(this.#cells, 1, 0n);
    Atomics.store(this.#cells, 0, BigInt(term));
  }

  /** Worker side: the daemon's role now (reconcile follows it, not the queue). */
  current(): { master: boolean; term: number } {
    const master = Atomics.load(this.#cells, 1) === 1n;
    return { master, term: Number(Atomics.load(this.#cells, 0)) };
  }

  /** Worker side: true only while the daemon says master in exactly `term`. */
  holds(term: number): boolean {
    return Atomics.load(this.#cells, 1) === 1n &&
      Atomics.load(this.#cells, 0) === BigInt(term);
  }
}

/** Counter names, in the order of their cells. */
export const RESOURCE_COUNTERS = [
  /** Reconcile passes run. */
  "reconcile_runs",
  /** Repairs made by reconcile (VIP re-added or removed, IP reassigned). */
  "repairs",
  /** Announcements (gratuitous ARP / unsolicited NA) sent successfully. */
  "announcements",
  /** Announcements that failed. */
  "announce_failures",
  /** HTTP requests sent to the provider or metadata service. */
  "api_requests",
  /** Of those, answered with an error status or not answered. */
  "api_errors",
  /** Requests repeated after an error, a 429 or a timeout. */
  "api_retries",
  /** Answers with status 429 (rate limited). */
  "api_rate_limited",
  /** Sum of request latency, ms. */
  "api_latency_ms_sum",
  /** Calls not sent because the node was no longer master in their term. */
  "fenced_calls",
  /** Assignments confirmed by read-back. */
  "assignments",
] as const;

export type ResourceCounter = typeof RESOURCE_COUNTERS[number];

/** Counters of one resource driver, in shared memory. */
export class ResourceStats {
  readonly #cells: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new Float64Array(buffer);
  }

  /** A fresh shared buffer (all zero). */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(
      RESOURCE_COUNTERS.length * Float64Array.BYTES_PER_ELEMENT,
    );
  }

  /** Worker side; one writer per buffer, so plain adds are safe. */
  add(name: ResourceCounter, amount = 1): void {
    this.#cells[RESOURCE_COUNTERS.indexOf(name)]! += amount;
  }

  /** Daemon side: a copy of every counter. */
  read(): Record<ResourceCounter, number> {
    const out = {} as Record<ResourceCounter, number>;
    RESOURCE_COUNTERS.forEach((name, i) => out[name] = this.#cells[i] ?? 0);
    return out;
  }
}
