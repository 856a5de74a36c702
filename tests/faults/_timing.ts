/**
 * Waits and slack the fault suite and the soak share, sized for a busy
 * 2-core CI box. Constants only: what a bound means is the checker's job.
 */

/** Slack for scheduling, Worker start and hook spawn, added to the liveness bound. */
export const CI_MARGIN_MS = 1500;
/** Longest wait for every started daemon to log "started". */
export const READY_MS = 30_000;
/** Longest wait for the first master of a fresh cluster. */
export const MASTER_MS = 15_000;
