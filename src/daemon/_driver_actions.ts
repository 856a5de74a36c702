/**
 * What one built-in driver does for one role change: the bash driver runs a
 * script in its Worker, the webhook driver posts to its URL from its Worker.
 * Each action logs one line, updates the driver's counters and resolves; it
 * never throws and never waits past its deadline (the driver's own timeout
 * plus a grace for the Worker to answer). Ordering and collapsing of events
 * belong to `driver_host.ts`, not here.
 */

import type { BashDriverConfig, WebhookDriverConfig } from "../config/types.ts";
import { Logger } from "../log.ts";
import {
  type EventFields,
  type RunResult,
  webhookWorstCaseMs,
  type WorkerMessage,
} from "../../drivers/_protocol.ts";
import { WorkerClient } from "./_worker_client.ts";
import type { WorkerChannel } from "./sandbox.ts";
import { spawnBashWorker, spawnWebhookWorker } from "./_workers.ts";

/** Extra time a Worker gets to report after its own timeout fired. */
export const WORKER_REPLY_GRACE_MS = 2000;

/** Role change handed to a driver (public shape: `RoleEvent` in driver_host.ts). */
export interface ActionEvent {
  event: "promote" | "demote";
  /** Why, one of the documented reasons (`RoleReason`). */
  reason: string;
  role: "master" | "backup";
  term: number;
  nodeId: string;
  masterId: string | null;
}

/** Counters of one driver, for /metrics. */
export interface DriverStat {
  /** Position in the config's `drivers` list. */
  index: number;
  type: "bash" | "webhook" | "vip" | "floating_ip";
  /** The driver's `id` (default `bash-0`, `webhook-0`), used in logs and metrics. */
  name: string;
  runs: number;
  failures: number;
  timeouts: number;
  lastDurationMs: number;
  totalDurationMs: number;
  /** vip and floating_ip: repairs, announcements, API calls... (shared/ResourceStats). */
  resource?: Record<string, number>;
}

/** How an action ended: `settled` false means the state was not applied (superseded). */
export interface ActionOutcome {
  settled: boolean;
}

/** One driver's action runner. */
export interface DriverAction {
  readonly stat: DriverStat;
  start(): Promise<void>;
  perform(event: ActionEvent, time: string): Promise<ActionOutcome>;
  /** A newer, different event arrived while `perform` runs. */
  supersede(): void;
  /** Called at dispatch, before queueing: resource drivers move their fence. */
  notify?(event: ActionEvent): void;
  stop(deadlineMs: number): Promise<void>;
}

function newStat(
  index: number,
  config: BashDriverConfig | WebhookDriverConfig,
): DriverStat {
  return {
    index,
    type: config.type,
    name: config.id,
    runs: 0,
    failures: 0,
    timeouts: 0,
    lastDurationMs: 0,
    totalDurationMs: 0,
  };
}

function count(
  stat: DriverStat,
  ok: boolean,
  timedOut: boolean,
  ms: number,
): void {
  stat.runs++;
  if (!ok) stat.failures++;
  if (timedOut) stat.timeouts++;
  stat.lastDurationMs = ms;
  stat.totalDurationMs += ms;
}

/** Snake-case event fields, as scripts and webhooks see them. */
export function eventFields(event: ActionEvent): EventFields {
  return {
    event: event.event,
    reason: event.reason,
    role: event.role,
    term: event.term,
    node_id: event.nodeId,
    master_id: event.masterId,
  };
}

/** Runs a bash driver's scripts in its Worker. */
export class BashAction implements DriverAction {
  readonly stat: DriverStat;
  readonly #config: BashDriverConfig;
  readonly #killPath: string | null;
  readonly #client: WorkerChannel;
  readonly #log = new Logger("driver:bash");

  /** `channel`: the shared sandbox's; default a Worker of its own. */
  constructor(
    index: number,
    config: BashDriverConfig,
    killPath: string | null,
    channel?: WorkerChannel,
  ) {
    this.stat = newStat(index, config);
    this.#config = config;
    this.#killPath = killPath;
    this.#client = channel ?? new WorkerClient(
      this.stat.name,
      () => spawnBashWorker(config, killPath),
      this.#log,
    );
  }

  start(): Promise<void> {
    return this.#client.start();
  }

  async perform(event: ActionEvent): Promise<ActionOutcome> {
    const script = event.event === "promote"
      ? this.#config.promote
      : this.#config.demote;
    if (script === undefined) {
      this.#log.debug("no script for event", {
        driver: this.stat.name,
        event: event.event,
        term: event.term,
      });
      return { settled: true };
    }
    await this.#run(script, event.event, {
      CLUSTD_EVENT: event.event,
      CLUSTD_REASON: event.reason,
      CLUSTD_ROLE: event.role,
      CLUSTD_TERM: String(event.term),
      CLUSTD_NODE_ID: event.nodeId,
      CLUSTD_MASTER_ID: event.masterId ?? "",
    });
    return { settled: true };
  }

  /** True when this driver has a `pre_promote` script. */
  hasPrePromote(): boolean {
    return this.#config.prePromote !== undefined;
  }

  /** Runs pre_promote; true only when it exits 0 within the timeout. */
  async prePromote(
    nodeId: string,
    term: number,
    masterId: string,
  ): Promise<boolean> {
    const script = this.#config.prePromote;
    if (script === undefined) return true;
    const result = await this.#run(script, "pre_promote", {
      CLUSTD_EVENT: "pre_promote",
      CLUSTD_ROLE: "candidate",
      CLUSTD_TERM: String(term),
      CLUSTD_NODE_ID: nodeId,
      CLUSTD_MASTER_ID: masterId,
    });
    return result?.ok ?? false;
  }

  supersede(): void {
    // A script runs to its end or its timeout; the host then applies the latest state.
  }

  stop(deadlineMs: number): Promise<void> {
    return this.#client.stop(deadlineMs);
  }

  /** Runs one script and logs it; null when the Worker gave no result. */
  async #run(
    script: string,
    label: string,
    env: Record<string, string>,
  ): Promise<RunResult | null> {
    const fields = {
      driver: this.stat.name,
      event: label,
      term: env.CLUSTD_TERM,
      script,
    };
    const reply = await replyOf("run_result", () =>
      this.#client.request({
        kind: "run",
        path: script,
        args: [],
        env,
        timeoutMs: this.#config.timeoutMs,
        killPath: this.#killPath,
      }, this.#config.timeoutMs + WORKER_REPLY_GRACE_MS));
    if (typeof reply === "string") {
      count(this.stat, false, false, 0);
      this.#log.error("script not run", { ...fields, error: reply });
      return null;
    }
    const { result } = reply;
    count(this.stat, result.ok, result.timedOut, result.durationMs);
    const outcome = {
      ...fields,
      exit_code: result.exitCode,
      signal: result.signal,
      duration_ms: result.durationMs,
      output: result.output,
    };
    if (result.error !== null) {
      this.#log.error("script could not start", {
        ...outcome,
        error: result.error,
      });
    } else if (result.timedOut) {
      this.#log.error("script timed out; process group killed", outcome);
    } else if (!result.ok) this.#log.warn("script failed", outcome);
    else this.#log.info("script finished", outcome);
    return result;
  }
}

/** Posts role changes from a webhook driver's Worker. */
export class WebhookAction implements DriverAction {
  readonly stat: DriverStat;
  readonly #config: WebhookDriverConfig;
  readonly #key: Uint8Array;
  readonly #client: WorkerChannel;
  readonly #log = new Logger("driver:webhook");

  /** `channel`: the shared sandbox's; default a Worker of its own. */
  constructor(
    index: number,
    config: WebhookDriverConfig,
    key: Uint8Array,
    channel?: WorkerChannel,
  ) {
    this.stat = newStat(index, config);
    this.#config = config;
    this.#key = key;
    this.#client = channel ?? new WorkerClient(
      this.stat.name,
      () => spawnWebhookWorker(config),
      this.#log,
    );
  }

  async start(): Promise<void> {
    await this.#client.start();
    await this.#init();
  }

  async perform(event: ActionEvent, time: string): Promise<ActionOutcome> {
    const fields = {
      driver: this.stat.name,
      event: event.event,
      term: event.term,
    };
    const reply = await replyOf("post_result", async () => {
      // A respawned Worker has lost its init; sending it again is harmless.
      await this.#init();
      const deadlineMs =
        webhookWorstCaseMs(this.#config.timeoutMs, this.#config.retries) +
        WORKER_REPLY_GRACE_MS;
      return await this.#client.request(
        { kind: "post", fields: eventFields(event), time },
        deadlineMs,
      );
    });
    if (typeof reply === "string") {
      count(this.stat, false, false, 0);
      this.#log.error("webhook not sent", { ...fields, error: reply });
      return { settled: true };
    }
    const { result } = reply;
    const timedOut = !result.ok && result.errorName === "TimeoutError";
    count(this.stat, result.ok, timedOut, result.durationMs);
    const outcome = {
      ...fields,
      status: result.status,
      attempts: result.attempts,
      duration_ms: result.durationMs,
    };
    if (result.ok) this.#log.info("webhook delivered", outcome);
    else if (result.superseded) {
      this.#log.info("webhook superseded by a newer event", {
        ...outcome,
        error: result.error,
      });
    } else {this.#log.warn("webhook failed", {
        ...outcome,
        error: result.error,
      });}
    // Undelivered and superseded: the receiver's state is unknown, so the latest event goes out.
    return { settled: result.ok || !result.superseded };
  }

  supersede(): void {
    this.#client.request({ kind: "supersede" }, WORKER_REPLY_GRACE_MS).catch(
      (error: unknown) => {
        this.#log.warn("cannot supersede webhook", {
          driver: this.stat.name,
          error: error instanceof Error ? error.message : String(error),
        });
      },
    );
  }

  stop(deadlineMs: number): Promise<void> {
    return this.#client.stop(deadlineMs);
  }

  async #init(): Promise<void> {
    const reply = await this.#client.request({
      kind: "init",
      url: this.#config.url,
      key: this.#key,
      timeoutMs: this.#config.timeoutMs,
      retries: this.#config.retries,
    }, WORKER_REPLY_GRACE_MS);
    if (reply.kind !== "done") {
      throw new Error(
        reply.kind === "error" ? reply.message : `reply ${reply.kind}`,
      );
    }
  }
}

/**
 * Asks a Worker and returns its reply of `kind`, or why there was none (an
 * error reply, another kind, a crash or a missed deadline).
 */
async function replyOf<K extends WorkerMessage["kind"]>(
  kind: K,
  ask: () => Promise<WorkerMessage>,
): Promise<Extract<WorkerMessage, { kind: K }> | string> {
  try {
    const reply = await ask();
    if (reply.kind === kind) {
      return reply as Extract<WorkerMessage, { kind: K }>;
    }
    return reply.kind === "error" ? reply.message : `reply ${reply.kind}`;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}
