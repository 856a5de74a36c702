/**
 * Cluster maintenance (Patroni's pause, Pacemaker's maintenance mode). While
 * paused no automatic failover, handover or preemption starts: followers do
 * not campaign when their timer fires, voters refuse (pre-)votes that no
 * handover claim backs, and a master whose checks fail or that a better
 * node could preempt stays master. Safety is untouched: a master still acts
 * as master only while it holds its lease, so one that loses its quorum
 * still steps down. Operator actions (switchover, drain, shutdown) still
 * hand over. The shell replicates and persists the flag; the core only obeys.
 */

import { type CoreState, inLease, log } from "./_state.ts";

/** Applies the cluster's pause flag. */
export function onPause(s: CoreState, paused: boolean): void {
  if (paused === s.paused) return;
  s.paused = paused;
  log(s, "info", paused ? "paused" : "resumed", {});
  if (paused || inLease(s)) return;
  // Resumed with no leader heard within E: every timer expired long ago, so
  // without this all would fire at once. Restart them E in the past so they
  // fire now in rank order (E + rank·Δ after "now - E").
  s.timerStartMs = Math.min(s.timerStartMs, s.nowMs - s.opts.electionTimeoutMs);
}

/** Why a vote must be refused because of the pause, or null. */
export function pauseRefusal(
  s: CoreState,
  handoverClaimed: boolean,
): string | null {
  // Refuse: an operator paused the cluster, so only a handover a master
  // asked for (switchover, drain, shutdown) may elect anyone.
  return s.paused && !handoverClaimed ? "paused" : null;
}
