/**
 * The resource drivers (vip, floating_ip) living in one Worker, by driver
 * name: created by `resource_init` with their shared fence and counters,
 * told role changes by `resource_apply`. Used by the resource Worker and by
 * the shared sandbox Worker.
 */

import { isRecord } from "../_protocol.ts";
import {
  FloatingIpUnit,
  type FloatingIpUnitConfig,
} from "../floating_ip/floating_ip.ts";
import { VipUnit, type VipUnitConfig } from "../vip/vip.ts";
import { Fence, ResourceStats } from "./shared.ts";
import type { ApplyResult, LogSink, ResourceUnit } from "./unit.ts";

/** Most units one Worker hosts (one per configured resource driver). */
const UNITS_MAX = 64;

/** Every resource unit of one Worker. */
export class ResourceUnits {
  readonly #units = new Map<string, ResourceUnit>();
  readonly #log: LogSink;

  constructor(log: LogSink) {
    this.#log = log;
  }

  has(unit: string): boolean {
    return this.#units.has(unit);
  }

  /** Creates a unit from a `resource_init` message; idempotent per name. */
  init(data: Record<string, unknown>): void {
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
    if (this.#units.has(unit)) return;
    if (this.#units.size >= UNITS_MAX) {
      throw new Error("too many resource drivers");
    }
    const shared = [
      new Fence(fence),
      new ResourceStats(stats),
      this.#log,
    ] as const;
    if (config.type === "vip") {
      this.#units.set(
        unit,
        new VipUnit(config as unknown as VipUnitConfig, ...shared),
      );
    } else if (config.type === "floating_ip") {
      this.#units.set(
        unit,
        new FloatingIpUnit(
          config as unknown as FloatingIpUnitConfig,
          ...shared,
        ),
      );
    } else {
      throw new Error(`unknown resource type ${JSON.stringify(config.type)}`);
    }
  }

  /** Applies a `resource_apply` message. */
  async apply(
    data: Record<string, unknown>,
  ): Promise<ApplyResult & { durationMs: number }> {
    const event = data.event === "promote" ? "promote" : "demote";
    const term = typeof data.term === "number" ? data.term : -1;
    const startedMs = performance.now();
    const result = await this.#unit(data.unit).apply(event, term);
    return { ...result, durationMs: Math.round(performance.now() - startedMs) };
  }

  supersede(unit: unknown): void {
    this.#unit(unit).supersede();
  }

  /** Stops one unit (its driver went away) or, without a name, all. */
  async stop(unit?: string): Promise<void> {
    const names = unit === undefined ? [...this.#units.keys()] : [unit];
    await Promise.all(names.map(async (name) => {
      await this.#units.get(name)?.stop();
      this.#units.delete(name);
    }));
  }

  #unit(name: unknown): ResourceUnit {
    const unit = typeof name === "string" ? this.#units.get(name) : undefined;
    if (unit === undefined) throw new Error(`no unit ${JSON.stringify(name)}`);
    return unit;
  }
}
