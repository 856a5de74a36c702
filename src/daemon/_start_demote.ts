/**
 * Start in a known state (DESIGN §1): when the daemon starts, every built-in
 * driver is told `demote` with reason `start`, so what an earlier life of
 * this node may still hold (a VIP left by kill -9) is let go before the node
 * may campaign. Runs beside the mesh; never throws, never waits past the
 * drivers' own timeouts, and logs how it ended.
 */

import type { Logger } from "../log.ts";
import type { DriverHost, RoleEvent } from "./driver_host.ts";
import { monotonicMs } from "./clock.ts";

/** The role event every driver is told at start. */
export function startEvent(nodeId: string, term: number): RoleEvent {
  return {
    event: "demote",
    reason: "start",
    role: "backup",
    term,
    nodeId,
    masterId: null,
  };
}

function timeouts(drivers: DriverHost): number {
  return drivers.stats().reduce((sum, stat) => sum + stat.timeouts, 0);
}

/**
 * Dispatches `event` to every driver and resolves once all finished or timed
 * out (each driver's timeout bounds it); logs the duration and the timeouts.
 */
export async function runStartDemote(
  drivers: DriverHost,
  event: RoleEvent,
  log: Logger,
): Promise<void> {
  const startedMs = monotonicMs();
  const timeoutsBefore = timeouts(drivers);
  drivers.dispatch(event);
  try {
    await drivers.settled();
  } catch (error: unknown) {
    log.error("start demote failed; eligible anyway", {
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  const timedOut = timeouts(drivers) - timeoutsBefore;
  const fields = {
    term: event.term,
    durationMs: Math.round(monotonicMs() - startedMs),
    timedOut,
  };
  if (timedOut > 0) log.warn("start demote timed out; eligible anyway", fields);
  else log.info("start demote finished; eligible", fields);
}
