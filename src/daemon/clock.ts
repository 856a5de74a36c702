/**
 * The daemon's only clock: monotonic milliseconds since process start.
 * Never wall time (it jumps); `performance.now()` keeps running while the
 * process is stopped, so a paused master sees how long it was gone.
 */

/** Monotonic milliseconds. */
export function monotonicMs(): number {
  return performance.now();
}
