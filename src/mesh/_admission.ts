/**
 * Admission control for unauthenticated connections: a cap in total and per
 * source address, so a flood of half-open handshakes cannot starve the node
 * or its real peers. Counts only; the caller refuses and logs.
 */

/** Connections still in their handshake, over all sources. */
export const UNAUTHENTICATED_TOTAL_MAX = 64;
/** Connections still in their handshake from one source address. */
export const UNAUTHENTICATED_PER_ADDRESS_MAX = 16;

/** Tracks handshakes in progress per source address. */
export class Admission {
  #total = 0;
  #byAddress = new Map<string, number>();
  readonly #totalMax: number;
  readonly #perAddressMax: number;

  constructor(
    totalMax = UNAUTHENTICATED_TOTAL_MAX,
    perAddressMax = UNAUTHENTICATED_PER_ADDRESS_MAX,
  ) {
    this.#totalMax = totalMax;
    this.#perAddressMax = perAddressMax;
  }

  /** Admits one more handshake from `address`; returns its release, or undefined when full. */
  tryAdmit(address: string): (() => void) | undefined {
    const current = this.#byAddress.get(address) ?? 0;
    if (this.#total >= this.#totalMax || current >= this.#perAddressMax) {
      return undefined;
    }
    this.#total += 1;
    this.#byAddress.set(address, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
    };
  }

  /** Handshakes currently admitted. */
  get total(): number {
    return this.#total;
  }
}
