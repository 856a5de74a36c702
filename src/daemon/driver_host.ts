/**
 * The daemon's only door to the built-in drivers (bash, webhook): tells each
 * driver every local role change, in order, one action at a time, collapsing
 * stale events so a driver ends in the latest state (DESIGN §4), runs the
 * `pre_promote` veto, and counts runs for /metrics.
 *
 * Each driver lives in its own permission-scoped Worker (`_workers.ts`).
 * Nothing here may block the daemon: `dispatch()` returns at once, every wait
 * has a deadline, and a failing, hung or crashing driver only fails its own
 * actions. External drivers are the daemon's business and are ignored here.
 *
 * A reload (`prepare`, then `commit`) replaces only the drivers whose id or
 * settings changed: an unchanged driver keeps its lane, Worker and last
 * applied event, so it runs nothing because of the reload.
 */

import type { DriverConfig } from "../config/types.ts";
import type { RoleReason } from "../election/types.ts";
import { Logger } from "../log.ts";
import {
  type ActionEvent,
  BashAction,
  type DriverAction,
  type DriverStat,
  WebhookAction,
} from "./_driver_actions.ts";
import { findKillProgram } from "./_workers.ts";
import { ResourceAction, ResourceWorker } from "./_resource_action.ts";
import type { Sandbox, WorkerChannel } from "./sandbox.ts";

export type { DriverStat } from "./_driver_actions.ts";

/** Longest wait, on stop, for Workers to kill their running scripts. */
const STOP_ABORT_DEADLINE_MS = 3000;

/** A role change of the local node, as the daemon reports it. */
export interface RoleEvent extends ActionEvent {
  event: "promote" | "demote";
  reason: RoleReason;
  role: "master" | "backup";
  /** Fencing token: the term of the promotion (or of the demotion). */
  term: number;
  nodeId: string;
  masterId: string | null;
}

/** What every driver needs from the daemon. */
export interface DriverHostOptions {
  nodeId: string;
  /** HMAC key of webhooks without their own `secret` (see deriveWebhookKey). */
  webhookKey: Uint8Array;
  /** The node's shared driver/check Worker; without it each driver gets its own. */
  sandbox?: Sandbox;
}

/** Counters of every built-in driver, in config order. */
export type DriverStats = DriverStat[];

/** Last applied (event, term) of a driver; null before the first or when unknown. */
type AppliedState = { event: RoleEvent["event"]; term: number } | null;

function sameState(event: RoleEvent, applied: AppliedState): boolean {
  return applied !== null && applied.event === event.event &&
    applied.term === event.term;
}

/**
 * One driver's ordered lane. The latest dispatched event is the target; when
 * an action ends and the last applied state differs from the target, the
 * target runs once with its own term and master. So promote (running), demote,
 * promote in the same term runs nothing more, while a promote in a newer term
 * runs again: the new fencing token must reach the downstream system.
 */
class DriverLane {
  readonly action: DriverAction;
  readonly #log: Logger;
  #target: { event: RoleEvent; time: string } | null = null;
  #applied: AppliedState = null;
  #running: RoleEvent | null = null;
  #idle: Promise<void> = Promise.resolve();

  constructor(action: DriverAction, log: Logger) {
    this.action = action;
    this.#log = log;
  }

  dispatch(event: RoleEvent): void {
    this.action.notify?.(event);
    this.#target = { event, time: new Date().toISOString() };
    if (this.#running === null) {
      this.#idle = this.#pump();
      return;
    }
    if (
      this.#running.event !== event.event || this.#running.term !== event.term
    ) {
      this.action.supersede();
    }
    this.#log.debug("event queued behind a running action", {
      driver: this.action.stat.name,
      event: event.event,
      term: event.term,
    });
  }

  settled(): Promise<void> {
    return this.#idle;
  }

  async #pump(): Promise<void> {
    while (
      this.#target !== null && !sameState(this.#target.event, this.#applied)
    ) {
      const { event, time } = this.#target;
      this.#running = event;
      let settled = true;
      try {
        settled = (await this.action.perform(event, time)).settled;
      } catch (error: unknown) {
        // Actions never throw; if one does, the lane must still move on.
        this.#log.error("driver action threw", {
          driver: this.action.stat.name,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      this.#running = null;
      this.#applied = settled ? { event: event.event, term: event.term } : null;
    }
  }
}

/** Identity of a driver for a reload: its id and every setting. */
function driverKey(driver: DriverConfig): string {
  return JSON.stringify(
    driver,
    (_key, value) => value instanceof Uint8Array ? [...value] : value,
  );
}

/**
 * A reload's driver changes, prepared (new Workers loaded) but not applied:
 * `commit()` swaps them in, `abort()` drops them with nothing changed.
 */
export interface DriverUpdate {
  /** Driver ids started, kept and stopped by this update. */
  readonly added: readonly string[];
  readonly kept: readonly string[];
  readonly removed: readonly string[];
  /** Whether the drivers after the update have a `pre_promote` script. */
  readonly hasPrePromote: boolean;
  /**
   * Applies it: kept drivers go on untouched (state, Worker, last applied
   * event), removed ones are stopped, and new ones are told `current` once.
   */
  commit(current: RoleEvent): Promise<void>;
  /** Stops the new drivers' Workers; the running set stays as it was. */
  abort(): Promise<void>;
}

/** Starts the Workers of `lanes`; rejects naming the first that failed. */
async function startLanes(lanes: readonly DriverLane[]): Promise<void> {
  await Promise.all(lanes.map(async (lane) => {
    try {
      await lane.action.start();
    } catch (error: unknown) {
      const text = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot start driver ${lane.action.stat.name}: ${text}`);
    }
  }));
}

/** Runs the built-in drivers for the daemon. */
export class DriverHost {
  readonly #options: DriverHostOptions;
  #lanes: DriverLane[] = [];
  #keys: string[] = [];
  #killPath: string | null | undefined;
  readonly #log = new Logger("driver");

  constructor(drivers: DriverConfig[], options: DriverHostOptions) {
    this.#options = options;
    drivers.forEach((driver, index) => {
      // The first drivers share the node's sandbox Worker; drivers a reload
      // adds get Workers of their own (the sandbox's permissions are fixed).
      const lane = this.#newLane(
        driver,
        index,
        options.sandbox?.channel(`driver:${driver.id}`),
      );
      if (lane === null) return;
      this.#lanes.push(lane);
      this.#keys.push(driverKey(driver));
    });
  }

  /** kill(1) for bash Workers, looked up (and warned about) once. */
  #kill(): string | null {
    if (this.#killPath === undefined) {
      this.#killPath = findKillProgram();
      if (this.#killPath === null) {
        this.#log.warn(
          "no kill(1) found at /usr/bin/kill or /bin/kill: a timed-out script's own children will survive",
        );
      }
    }
    return this.#killPath;
  }

  #newLane(
    driver: DriverConfig,
    index: number,
    channel?: WorkerChannel,
  ): DriverLane | null {
    let action: DriverAction;
    if (driver.type === "bash") {
      action = new BashAction(index, driver, this.#kill(), channel);
    } else if (driver.type === "webhook") {
      action = new WebhookAction(
        index,
        driver,
        driver.secret ?? this.#options.webhookKey,
        channel,
      );
    } else if (driver.type === "vip" || driver.type === "floating_ip") {
      action = new ResourceAction(
        index,
        driver,
        channel ?? new ResourceWorker([driver]).client,
      );
    } else {
      return null;
    }
    return new DriverLane(action, this.#log);
  }

  /** Spawns every Worker and waits until all have loaded; rejects naming the one that failed. */
  async start(): Promise<void> {
    await startLanes(this.#lanes);
  }

  /**
   * Prepares a reload to `next`: a driver whose id and settings are
   * unchanged is kept as it is; every other one gets a new lane whose Worker
   * is loaded here. Returns why not when a new Worker cannot start (then
   * nothing was left running and nothing changed).
   */
  async prepare(next: DriverConfig[]): Promise<DriverUpdate | string> {
    const unused = new Map<string, DriverLane[]>();
    this.#keys.forEach((key, i) => {
      const lane = this.#lanes[i];
      if (lane !== undefined) unused.set(key, [...unused.get(key) ?? [], lane]);
    });
    const lanes: DriverLane[] = [];
    const keys: string[] = [];
    const fresh: DriverLane[] = [];
    const kept: DriverLane[] = [];
    next.forEach((driver, index) => {
      const key = driverKey(driver);
      const same = unused.get(key)?.shift();
      const lane = same ?? this.#newLane(driver, index);
      if (lane === null) return;
      if (same === undefined) fresh.push(lane);
      else kept.push(lane);
      lanes.push(lane);
      keys.push(key);
    });
    const removed = [...unused.values()].flat();
    try {
      await startLanes(fresh);
    } catch (error: unknown) {
      await Promise.all(fresh.map((lane) => lane.action.stop(0)));
      return error instanceof Error ? error.message : String(error);
    }
    const names = (list: DriverLane[]) =>
      list.map((lane) => lane.action.stat.name);
    return {
      added: names(fresh),
      kept: names(kept),
      removed: names(removed),
      hasPrePromote: lanes.some((lane) =>
        lane.action instanceof BashAction && lane.action.hasPrePromote()
      ),
      commit: async (current) => {
        lanes.forEach((lane, index) => lane.action.stat.index = index);
        this.#lanes = lanes;
        this.#keys = keys;
        for (const lane of fresh) lane.dispatch(current);
        await Promise.all(
          removed.map((lane) => lane.action.stop(STOP_ABORT_DEADLINE_MS)),
        );
      },
      abort: async () => {
        await Promise.all(fresh.map((lane) => lane.action.stop(0)));
      },
    };
  }

  /** Hands a role change to every driver; returns at once. */
  dispatch(event: RoleEvent): void {
    for (const lane of this.#lanes) lane.dispatch(event);
  }

  /** Resolves when every driver has finished its pending work (bounded by timeouts). */
  async settled(): Promise<void> {
    // A lane may pick up new work while we wait: loop until all are idle at once.
    for (let round = 0; round < this.#lanes.length + 2; round++) {
      const idle = this.#lanes.map((lane) => lane.settled());
      await Promise.all(idle);
      if (this.#lanes.every((lane, i) => lane.settled() === idle[i])) return;
    }
  }

  /** The bash drivers, in config order. */
  #bash(): BashAction[] {
    return this.#lanes.map((lane) => lane.action).filter((action) =>
      action instanceof BashAction
    );
  }

  /** True when some bash driver has a `pre_promote` script. */
  hasPrePromote(): boolean {
    return this.#bash().some((bash) => bash.hasPrePromote());
  }

  /** Runs every `pre_promote`; true only if all exit 0 within their timeouts. */
  async prePromote(term: number, masterId: string): Promise<boolean> {
    const verdicts = await Promise.all(
      this.#bash().map((bash) =>
        bash.prePromote(this.#options.nodeId, term, masterId)
      ),
    );
    const allowed = verdicts.every((ok) => ok);
    if (this.hasPrePromote()) {
      this.#log.info(
        allowed
          ? "pre_promote allowed promotion"
          : "pre_promote vetoed promotion",
        {
          term,
        },
      );
    }
    return allowed;
  }

  /** Counters per driver, in config order (copies). */
  stats(): DriverStats {
    return this.#lanes.map((lane) => ({ ...lane.action.stat }));
  }

  /** Kills running scripts, stops retries and terminates every Worker. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#lanes.map((lane) => lane.action.stop(STOP_ABORT_DEADLINE_MS)),
    );
  }
}
