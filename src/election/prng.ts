/**
 * The only source of randomness in the election core: a small seeded PRNG
 * (SplitMix32), so that one seed replays one schedule exactly. Never reads a
 * global random source.
 */

/** Deterministic pseudo-random numbers from a 32-bit seed. */
export class Prng {
  #state: number;

  /** `seed` is any finite number; only its low 32 bits matter. */
  constructor(seed: number) {
    this.#state = (Math.trunc(seed) >>> 0) ^ 0x9e3779b9;
  }

  /** Next value in [0, 2^32). */
  nextUint32(): number {
    // SplitMix32: a Weyl sequence passed through an avalanching mix.
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Next value in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, bound), bound ≥ 1. */
  intBelow(bound: number): number {
    return Math.floor(this.nextFloat() * bound);
  }

  /** Uniform float in [minimum, maximum). */
  between(minimum: number, maximum: number): number {
    return minimum + this.nextFloat() * (maximum - minimum);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }
}
