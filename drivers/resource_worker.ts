/**
 * Worker of the resource drivers (vip, floating_ip) of one driver host, when
 * they do not share the sandbox Worker: each driver is a unit
 * (`resource/units.ts`). Timers (reconcile, announcement refresh) live here,
 * so they never load the daemon's loop; log lines go to the daemon as
 * `{kind: "log"}` messages.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `run` = the `ip`,
 * `arping`/`na6` programs the config resolved; `net` = `host:port` of each
 * provider API and metadata URL the config names; everything else denied.
 */

import { describeError, isRecord } from "./_protocol.ts";
import type { WorkerScope } from "./_run_process.ts";
import { ResourceUnits } from "./resource/units.ts";

const scope = self as unknown as WorkerScope;
const units = new ResourceUnits((level, message, fields) => {
  scope.postMessage({ kind: "log", level, message, fields });
});

/** Validates and dispatches one host message; never throws. */
async function handle(data: unknown): Promise<void> {
  const id = isRecord(data) && typeof data.id === "number" ? data.id : null;
  if (!isRecord(data) || id === null) {
    scope.postMessage({
      kind: "error",
      id,
      message: "Message needs a numeric id",
    });
    return;
  }
  try {
    if (data.kind === "ping") {
      scope.postMessage({ kind: "ready" });
    } else if (data.kind === "resource_init") {
      units.init(data);
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "resource_apply") {
      const result = await units.apply(data);
      scope.postMessage({ kind: "resource_result", id, ...result });
    } else if (data.kind === "supersede") {
      units.supersede(data.unit);
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "abort") {
      await units.stop();
      scope.postMessage({ kind: "done", id });
    } else {
      throw new Error(`Unknown message kind ${JSON.stringify(data.kind)}`);
    }
  } catch (error: unknown) {
    scope.postMessage({
      kind: "error",
      id,
      message: describeError(error).text,
    });
  }
}

scope.onmessage = (event: MessageEvent) => {
  void handle(event.data);
};
scope.postMessage({ kind: "ready" });
