/**
 * Open-connection slots of the listener, in total and per source: a slot is
 * taken when a connection is accepted and given back only when that
 * connection is closed or handed to the WebSocket side. Counts only.
 */

/** Why a connection got no slot. */
export type SlotRefusal = "connections_total" | "connections_per_source";

/** Counts open connections per source. */
export class ConnectionSlots {
  #total = 0;
  #bySource = new Map<string, number>();
  readonly totalMax: number;
  readonly perSourceMax: number;

  constructor(totalMax: number, perSourceMax: number) {
    this.totalMax = totalMax;
    this.perSourceMax = perSourceMax;
  }

  /** Takes a slot for `source`: its release (idempotent), or why not. */
  take(source: string): (() => void) | SlotRefusal {
    const current = this.#bySource.get(source) ?? 0;
    if (this.#total >= this.totalMax) return "connections_total";
    if (current >= this.perSourceMax) return "connections_per_source";
    this.#total += 1;
    this.#bySource.set(source, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      const left = (this.#bySource.get(source) ?? 1) - 1;
      if (left <= 0) this.#bySource.delete(source);
      else this.#bySource.set(source, left);
    };
  }

  /** Slots taken now. */
  get total(): number {
    return this.#total;
  }
}
