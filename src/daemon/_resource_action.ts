/**
 * Host side of the resource drivers (vip, floating_ip): one Worker per
 * driver host runs all of them (`drivers/resource_worker.ts`), each driver a
 * unit with its own shared fence and counters. `notify()` writes the fence
 * the moment the daemon dispatches a role change, before the driver's queue
 * gets to it, so a call the Worker is about to make for an older term is
 * never sent. Logs the Worker's lines with the daemon's logger.
 */

import type {
  FloatingIpDriverConfig,
  VipDriverConfig,
} from "../config/types.ts";
import { Logger } from "../log.ts";
import type { WorkerLogLine } from "../../drivers/_protocol.ts";
import { Fence, ResourceStats } from "../../drivers/resource/shared.ts";
import {
  type ActionEvent,
  type ActionOutcome,
  type DriverAction,
  type DriverStat,
  WORKER_REPLY_GRACE_MS,
} from "./_driver_actions.ts";
import { WorkerClient } from "./_worker_client.ts";
import type { WorkerChannel } from "./sandbox.ts";
import { type ResourceDriverConfig, spawnResourceWorker } from "./_workers.ts";

/** Shortest interval of the unit re-creation after a Worker restart. */
const KEEPALIVE_MIN_MS = 1000;

/** Longest a vip action (a few `ip` runs) may take before the Worker is restarted. */
const VIP_ACTION_DEADLINE_MS = 30_000;

function forward(log: Logger, line: WorkerLogLine): void {
  const level = ["debug", "info", "warn", "error"].includes(line.level)
    ? line.level
    : "info";
  log[level](String(line.message), line.fields ?? {});
}

/** The one Worker of a driver host's resource drivers. */
export class ResourceWorker {
  readonly client: WorkerClient;

  constructor(drivers: ResourceDriverConfig[]) {
    const log = new Logger("driver:resource");
    this.client = new WorkerClient(
      "resource drivers",
      () => spawnResourceWorker(drivers),
      log,
      (line) => forward(log, line),
    );
  }
}

/** Longest a floating_ip action may take: every call retried, then the read-back. */
function floatingIpDeadlineMs(config: FloatingIpDriverConfig): number {
  const calls = 4; // metadata, holder, assign, first read-back
  return calls * (config.retries + 1) * (config.timeoutMs + 5000) +
    config.readbackMs + WORKER_REPLY_GRACE_MS;
}

/** One vip or floating_ip driver. */
export class ResourceAction implements DriverAction {
  readonly #stat: DriverStat;
  readonly #config: VipDriverConfig | FloatingIpDriverConfig;
  readonly #client: WorkerChannel;
  readonly #fenceMemory = Fence.allocate();
  readonly #statsMemory = ResourceStats.allocate();
  readonly #fence = new Fence(this.#fenceMemory);
  readonly #stats = new ResourceStats(this.#statsMemory);
  readonly #log: Logger;
  #keepalive: ReturnType<typeof setInterval> | undefined;

  constructor(
    index: number,
    config: VipDriverConfig | FloatingIpDriverConfig,
    client: WorkerChannel,
  ) {
    this.#stat = {
      index,
      type: config.type,
      name: config.id,
      runs: 0,
      failures: 0,
      timeouts: 0,
      lastDurationMs: 0,
      totalDurationMs: 0,
    };
    this.#config = config;
    this.#client = client;
    this.#log = new Logger(`driver:${config.type}`);
  }

  /** Common counters plus the Worker's (read from shared memory now). */
  get stat(): DriverStat {
    return { ...this.#stat, resource: this.#stats.read() };
  }

  /** Called at dispatch time: the fence must change before anything else. */
  notify(event: ActionEvent): void {
    if (event.event === "promote") this.#fence.promote(event.term);
    else this.#fence.demote(event.term);
  }

  async start(): Promise<void> {
    await this.#client.start();
    await this.#init();
    // A restarted Worker has lost this unit until told again; the unit then
    // reconciles from the fence, so the resource follows the role anyway.
    this.#keepalive = setInterval(() => {
      this.#init().catch((error: unknown) => {
        this.#log.debug("resource unit not re-created", {
          driver: this.#stat.name,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }, Math.max(KEEPALIVE_MIN_MS, this.#config.reconcileMs));
  }

  async perform(event: ActionEvent): Promise<ActionOutcome> {
    const fields = {
      driver: this.#stat.name,
      event: event.event,
      term: event.term,
    };
    const deadlineMs = this.#config.type === "vip"
      ? VIP_ACTION_DEADLINE_MS
      : floatingIpDeadlineMs(this.#config);
    let ok = false;
    let timedOut = false;
    let durationMs = 0;
    try {
      // A respawned Worker lost its units; init is idempotent.
      await this.#init();
      const reply = await this.#client.request({
        kind: "resource_apply",
        unit: this.#stat.name,
        event: event.event,
        term: event.term,
      }, deadlineMs);
      if (reply.kind !== "resource_result") {
        throw new Error(reply.kind === "error" ? reply.message : reply.kind);
      }
      ok = reply.ok;
      durationMs = reply.durationMs;
      if (ok) {
        this.#log.info("driver applied", {
          ...fields,
          detail: reply.detail,
          duration_ms: durationMs,
        });
      } else {this.#log.error("driver failed", {
          ...fields,
          detail: reply.detail,
          duration_ms: durationMs,
        });}
    } catch (error: unknown) {
      const text = error instanceof Error ? error.message : String(error);
      timedOut = text.includes("no reply within");
      this.#log.error("driver not applied", { ...fields, error: text });
    }
    this.#stat.runs++;
    if (!ok) this.#stat.failures++;
    if (timedOut) this.#stat.timeouts++;
    this.#stat.lastDurationMs = durationMs;
    this.#stat.totalDurationMs += durationMs;
    return { settled: true };
  }

  supersede(): void {
    this.#client.request(
      { kind: "supersede", unit: this.#stat.name },
      WORKER_REPLY_GRACE_MS,
    ).catch((error: unknown) => {
      this.#log.debug("cannot supersede", {
        driver: this.#stat.name,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  stop(deadlineMs: number): Promise<void> {
    clearInterval(this.#keepalive);
    this.#fence.demote(-1);
    return this.#client.stop(deadlineMs);
  }

  async #init(): Promise<void> {
    const reply = await this.#client.request({
      kind: "resource_init",
      unit: this.#stat.name,
      config: { ...this.#config, name: this.#stat.name },
      fence: this.#fenceMemory,
      stats: this.#statsMemory,
    }, WORKER_REPLY_GRACE_MS);
    if (reply.kind !== "done") {
      throw new Error(
        reply.kind === "error" ? reply.message : `reply ${reply.kind}`,
      );
    }
  }
}
