/**
 * Link delay distributions of the simulator: a base, a capped exponential
 * jitter and a rare tail, per direction. Pure functions of the seeded PRNG.
 */

import type { Prng } from "../../src/election/prng.ts";

/** One direction of a link: base + capped exponential jitter + rare tail. */
export interface DelayProfile {
  baseMs: number;
  jitterMs: number;
  tailChance: number;
  tailMs: number;
}

/** Samples one delay: base + exponential jitter capped at 5× its mean + rare tail. */
export function sampleDelay(prng: Prng, profile: DelayProfile): number {
  const jitter = Math.min(
    -Math.log(1 - prng.nextFloat()) * profile.jitterMs,
    5 * profile.jitterMs,
  );
  const tail = prng.chance(profile.tailChance)
    ? prng.between(0, profile.tailMs)
    : 0;
  return profile.baseMs + jitter + tail;
}

/** Worst-case one-way delay of a profile. */
export function maxDelay(profile: DelayProfile): number {
  return profile.baseMs + 5 * profile.jitterMs + profile.tailMs;
}
