/**
 * Worker of the resource drivers (vip, floating_ip) of one driver host: each
 * driver is a unit, created by `resource_init` with its shared fence and
 * counters, and told role changes by `resource_apply`. Timers (reconcile,
 * announcement refresh) live here, so they never load the daemon's loop;
 * log lines go to the daemon as `{kind: "log"}` messages.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `run` = the `ip`,
 * `arping`/`na6` programs the config resolved; `net` = `host:port` of each
 * provider API and metadata URL the config names; everything else denied.
 */

import { describeError, isRecord } from "./_protocol.ts";
import type { WorkerScope } from "./_run_process.ts";
import {
  FloatingIpUnit,
  type FloatingIpUnitConfig,
} from "./floating_ip/floating_ip.ts";
import { Fence, ResourceStats } from "./resource/shared.ts";
import type { LogSink, ResourceUnit } from "./resource/unit.ts";
import { VipUnit, type VipUnitConfig } from "./vip/vip.ts";

const scope = self as unknown as WorkerScope;
const units = new Map<string, ResourceUnit>();

/** Most units one Worker hosts (one per configured resource driver). */
const UNITS_MAX = 64;

const log: LogSink = (level, message, fields) => {
  scope.postMessage({ kind: "log", level, message, fields });
};

function init(data: Record<string, unknown>): void {
  const { unit, config, fence, stats } = data;
  if (typeof unit !== "string" || !isRecord(config)) {
    throw new Error("resource_init needs a unit name and a config");
  }
  if (
    !(fence instanceof SharedArrayBuffer) ||
    !(stats instanceof SharedArrayBuffer)
  ) {
    throw new Error("resource_init needs shared fence and stats buffers");
  }
  if (units.has(unit)) return;
  if (units.size >= UNITS_MAX) throw new Error("too many resource drivers");
  const shared = [new Fence(fence), new ResourceStats(stats), log] as const;
  if (config.type === "vip") {
    units.set(unit, new VipUnit(config as unknown as VipUnitConfig, ...shared));
  } else if (config.type === "floating_ip") {
    units.set(
      unit,
      new FloatingIpUnit(config as unknown as FloatingIpUnitConfig, ...shared),
    );
  } else {throw new Error(
      `unknown resource type ${JSON.stringify(config.type)}`,
    );}
}

function unitOf(data: Record<string, unknown>): ResourceUnit {
  const unit = typeof data.unit === "string" ? units.get(data.unit) : undefined;
  if (unit === undefined) {
    throw new Error(`no unit ${JSON.stringify(data.unit)}`);
  }
  return unit;
}

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
      init(data);
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "resource_apply") {
      const event = data.event === "promote" ? "promote" : "demote";
      const term = typeof data.term === "number" ? data.term : -1;
      const startedMs = performance.now();
      const result = await unitOf(data).apply(event, term);
      const durationMs = Math.round(performance.now() - startedMs);
      scope.postMessage({ kind: "resource_result", id, ...result, durationMs });
    } else if (data.kind === "supersede") {
      unitOf(data).supersede();
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "abort") {
      await Promise.all([...units.values()].map((unit) => unit.stop()));
      units.clear();
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
