/**
 * Slots counted in total and per source, shared by the listener's open
 * connections (src/http/) and the mesh's handshakes in progress (src/mesh/):
 * a slot is taken by a connection and given back once, by the release the
 * caller keeps. Counts only; the caller decides what a refusal means.
 */

/** Which cap refused a slot. */
export type SlotCap = "total" | "per_source";

/** Counts slots in use, in total and per source. */
export class SourceSlots {
  #total = 0;
  readonly #bySource = new Map<string, number>();
  readonly totalMax: number;
  readonly perSourceMax: number;

  constructor(totalMax: number, perSourceMax: number) {
    this.totalMax = totalMax;
    this.perSourceMax = perSourceMax;
  }

  /** The cap that would refuse a slot for `source` now, or null. */
  refusal(source: string): SlotCap | null {
    if (this.#total >= this.totalMax) return "total";
    if ((this.#bySource.get(source) ?? 0) >= this.perSourceMax) {
      return "per_source";
    }
    return null;
  }

  /** Takes a slot for `source`: its release (idempotent), or the cap that refused. */
  take(source: string): (() => void) | SlotCap {
    const refused = this.refusal(source);
    if (refused !== null) return refused;
    this.#total += 1;
    this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
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
