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
 */

import type { DriverConfig } from "../config/types.ts";
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
import type { Sandbox } from "./sandbox.ts";

export type { DriverStat } from "./_driver_actions.ts";

/** Longest wait, on stop, for Workers to kill their running scripts. */
const STOP_ABORT_DEADLINE_MS = 3000;

/** A role change of the local node, as the daemon reports it. */
export interface RoleEvent extends ActionEvent {
  event: "promote" | "demote";
  role: "master" | "backup";
  /** Fencing token: the term of the promotion (or of the demotion). */
  term: number;
  nodeId: string;
  masterId: string | null;
}

/** What every driver needs from the daemon. */
export interface DriverHostOptions {
  nodeId: string;
  /** HMAC key of webhooks without their own `secret`. */
  clusterSecret: Uint8Array;
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

/** Runs the built-in drivers for the daemon. */
export class DriverHost {
  readonly #options: DriverHostOptions;
  readonly #lanes: DriverLane[] = [];
  readonly #bash: BashAction[] = [];
  readonly #log = new Logger("driver");

  constructor(drivers: DriverConfig[], options: DriverHostOptions) {
    this.#options = options;
    const hasBash = drivers.some((driver) => driver.type === "bash");
    const killPath = hasBash ? findKillProgram() : null;
    if (hasBash && killPath === null) {
      this.#log.warn(
        "no kill(1) found at /usr/bin/kill or /bin/kill: a timed-out script's own children will survive",
      );
    }
    const resources = drivers.filter((d) =>
      d.type === "vip" || d.type === "floating_ip"
    );
    const sandbox = options.sandbox;
    const resourceWorker = resources.length > 0 && sandbox === undefined
      ? new ResourceWorker(resources)
      : null;
    const channel = (name: string) => sandbox?.channel(name);
    drivers.forEach((driver, index) => {
      let action: DriverAction;
      if (driver.type === "bash") {
        const bash = new BashAction(
          index,
          driver,
          killPath,
          channel(`bash#${index}`),
        );
        this.#bash.push(bash);
        action = bash;
      } else if (driver.type === "webhook") {
        action = new WebhookAction(
          index,
          driver,
          driver.secret ?? options.clusterSecret,
          channel(`webhook#${index}`),
        );
      } else if (driver.type === "vip" || driver.type === "floating_ip") {
        action = new ResourceAction(
          index,
          driver,
          channel(`${driver.type}#${index}`) ?? resourceWorker!.client,
        );
      } else {
        return;
      }
      this.#lanes.push(new DriverLane(action, this.#log));
    });
  }

  /** Spawns every Worker and waits until all have loaded; rejects naming the one that failed. */
  async start(): Promise<void> {
    await Promise.all(this.#lanes.map(async (lane) => {
      try {
        await lane.action.start();
      } catch (error: unknown) {
        const text = error instanceof Error ? error.message : String(error);
        throw new Error(
          `Cannot start driver ${lane.action.stat.name}: ${text}`,
        );
      }
    }));
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

  /** True when some bash driver has a `pre_promote` script. */
  hasPrePromote(): boolean {
    return this.#bash.some((bash) => bash.hasPrePromote());
  }

  /** Runs every `pre_promote`; true only if all exit 0 within their timeouts. */
  async prePromote(term: number, masterId: string): Promise<boolean> {
    const verdicts = await Promise.all(
      this.#bash.map((bash) =>
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
