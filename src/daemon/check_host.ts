/**
 * Health checks (keepalived's track_script, HAProxy's rise/fall): each check's
 * command runs every `intervalMs` in its own permission-scoped Worker, killed
 * with its process group at `timeoutMs`; `fall` failures in a row make it
 * unhealthy, `rise` successes in a row make it healthy again. The node is
 * healthy (eligible) when every check is; with no checks it always is.
 *
 * Boot: a check starts unhealthy and needs `rise` successes first (the first
 * run starts at once). So a node whose service is down at boot never becomes
 * eligible, at the cost of (rise - 1) intervals before a fresh node may
 * promote. A reload (SIGHUP) keeps unchanged checks with their counters and
 * starts new or changed ones in the node's current state instead, so
 * changing a check on a healthy master does not make it hand over. A timeout, a spawn error or a Worker failure counts as a failure.
 *
 * Never blocks the daemon: results arrive through `onChange` only when the
 * aggregate flips; the callback's errors are logged, not raised.
 */

import type { CheckConfig } from "../config/types.ts";
import { Logger } from "../log.ts";
import type { RunResult } from "../../drivers/_protocol.ts";
import { WorkerClient } from "./_worker_client.ts";
import type { Sandbox, WorkerChannel } from "./sandbox.ts";
import { findKillProgram, spawnCheckWorker } from "./_workers.ts";

/** Extra time a check Worker gets to report after its own timeout fired. */
const CHECK_REPLY_GRACE_MS = 2000;

/** Longest wait, on stop, for a Worker to kill a running check. */
const STOP_ABORT_DEADLINE_MS = 3000;

/** Receives the node's aggregate health whenever it flips. */
export interface CheckHostOptions {
  onChange(healthy: boolean, detail: string): void;
  /** Start every check healthy (a reload of a healthy node); default false. */
  startHealthy?: boolean;
  /** The node's shared driver/check Worker; without it each check gets its own. */
  sandbox?: Sandbox;
}

/** Snapshot of one check, for /status and logs. */
export interface CheckStatus {
  id: string;
  command: string;
  healthy: boolean;
  successesInRow: number;
  failuresInRow: number;
  /** What the last run said: `exit 0`, `exit 3`, `timed out after 200 ms`... */
  lastResult: string;
  rise: number;
  fall: number;
  /** Duration of the last run (0 before the first). */
  lastDurationMs: number;
}

/** Rise/fall counter of one check; starts unhealthy unless told otherwise. */
export class RiseFall {
  healthy: boolean;
  successesInRow = 0;
  failuresInRow = 0;
  readonly #rise: number;
  readonly #fall: number;

  constructor(rise: number, fall: number, healthy = false) {
    this.#rise = Math.max(1, rise);
    this.#fall = Math.max(1, fall);
    this.healthy = healthy;
  }

  /** Counts one result; true when `healthy` flipped. */
  record(ok: boolean): boolean {
    if (ok) {
      this.successesInRow++;
      this.failuresInRow = 0;
      if (!this.healthy && this.successesInRow >= this.#rise) {
        this.healthy = true;
        return true;
      }
    } else {
      this.failuresInRow++;
      this.successesInRow = 0;
      if (this.healthy && this.failuresInRow >= this.#fall) {
        this.healthy = false;
        return true;
      }
    }
    return false;
  }
}

function describeResult(result: RunResult, timeoutMs: number): string {
  if (result.error !== null) return result.error;
  if (result.timedOut) return `timed out after ${timeoutMs} ms`;
  if (result.signal !== null) return `killed by ${result.signal}`;
  return `exit ${result.exitCode}`;
}

/** One check's loop: run, count, wait out the interval, repeat until stopped. */
class CheckLoop {
  readonly config: CheckConfig;
  readonly counter: RiseFall;
  lastResult = "not run yet";
  lastDurationMs = 0;
  readonly #client: WorkerChannel;
  readonly #killPath: string | null;
  readonly #onResult: (loop: CheckLoop) => void;
  readonly #log: Logger;
  #stopped = false;
  #wake: (() => void) | null = null;
  #running: Promise<void> | null = null;

  constructor(
    config: CheckConfig,
    killPath: string | null,
    onResult: (loop: CheckLoop) => void,
    log: Logger,
    startHealthy: boolean,
    channel?: WorkerChannel,
  ) {
    this.config = config;
    this.counter = new RiseFall(config.rise, config.fall, startHealthy);
    this.#killPath = killPath;
    this.#onResult = onResult;
    this.#log = log;
    this.#client = channel ?? new WorkerClient(
      `check ${config.id}`,
      () => spawnCheckWorker(config, killPath),
      log,
    );
  }

  async start(): Promise<void> {
    await this.spawn();
    this.run();
  }

  /** Loads the Worker without running the check yet. */
  spawn(): Promise<void> {
    return this.#client.start();
  }

  /** Starts the run/count/sleep loop (once, after `spawn`). */
  run(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#client.stop(STOP_ABORT_DEADLINE_MS);
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const startedMs = performance.now();
      const ok = await this.#runOnce();
      if (this.#stopped) return;
      this.lastDurationMs = performance.now() - startedMs;
      const flipped = this.counter.record(ok);
      if (!ok) this.#logFailure();
      if (flipped) this.#onResult(this);
      const elapsedMs = performance.now() - startedMs;
      await this.#sleep(Math.max(0, this.config.intervalMs - elapsedMs));
    }
  }

  /** Every failed run, as n/fall (the node turns ineligible at fall/fall). */
  #logFailure(): void {
    const fields = {
      check: this.config.id,
      failures: `${this.counter.failuresInRow}/${this.config.fall}`,
      result: this.lastResult,
    };
    this.#log.warn("check failed", fields);
  }

  async #runOnce(): Promise<boolean> {
    try {
      const reply = await this.#client.request({
        kind: "run",
        path: this.config.command,
        args: this.config.args,
        env: {},
        timeoutMs: this.config.timeoutMs,
        killPath: this.#killPath,
      }, this.config.timeoutMs + CHECK_REPLY_GRACE_MS);
      if (reply.kind !== "run_result") {
        this.lastResult = reply.kind === "error" ? reply.message : reply.kind;
        return false;
      }
      this.lastResult = describeResult(reply.result, this.config.timeoutMs);
      return reply.result.ok;
    } catch (error: unknown) {
      this.lastResult = error instanceof Error ? error.message : String(error);
      return false;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }
}

/** Identity of a check for a reload: its id and every setting. */
function checkKey(check: CheckConfig): string {
  return JSON.stringify(check);
}

/**
 * A reload's check changes, prepared (new Workers loaded) but not applied:
 * `commit()` swaps them in, `abort()` drops them with nothing changed.
 */
export interface CheckUpdate {
  /** Check ids started, kept and stopped by this update. */
  readonly added: readonly string[];
  readonly kept: readonly string[];
  readonly removed: readonly string[];
  /** Kept checks go on with their counters; new ones start running; removed ones stop. */
  commit(): Promise<void>;
  /** Stops the new checks' Workers; the running set stays as it was. */
  abort(): Promise<void>;
}

/** Spawns every Worker of `loops`; rejects naming the first that failed. */
async function spawnLoops(loops: readonly CheckLoop[]): Promise<void> {
  await Promise.all(loops.map(async (loop) => {
    try {
      await loop.spawn();
    } catch (error: unknown) {
      const text = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot start check ${loop.config.id}: ${text}`);
    }
  }));
}

/** Runs every configured check and reports the node's aggregate health. */
export class CheckHost {
  #loops: CheckLoop[];
  readonly #options: CheckHostOptions;
  readonly #log = new Logger("check");
  #killPath: string | null | undefined;
  #healthy: boolean;

  constructor(checks: CheckConfig[], options: CheckHostOptions) {
    this.#options = options;
    const startHealthy = options.startHealthy === true;
    this.#healthy = checks.length === 0 || startHealthy;
    // The first checks share the node's sandbox Worker; checks a reload
    // adds get Workers of their own (the sandbox may not run their commands).
    this.#loops = checks.map((check) =>
      this.#newLoop(
        check,
        startHealthy,
        options.sandbox?.channel(`check:${check.id}`),
      )
    );
  }

  #newLoop(
    check: CheckConfig,
    startHealthy: boolean,
    channel?: WorkerChannel,
  ): CheckLoop {
    this.#killPath ??= findKillProgram();
    return new CheckLoop(
      check,
      this.#killPath,
      (loop) => this.#update(loop),
      this.#log,
      startHealthy,
      channel,
    );
  }

  /** Spawns every check Worker and starts the loops; rejects naming a check that cannot start. */
  async start(): Promise<void> {
    await spawnLoops(this.#loops);
    for (const loop of this.#loops) loop.run();
  }

  /**
   * Prepares a reload to `next`: a check whose id and settings are unchanged
   * keeps its loop and counters; every other one gets a new loop, starting in
   * the node's current health (so editing a check on a healthy master does
   * not make it hand over), whose Worker is loaded here. Returns why not
   * when a Worker cannot start (then nothing changed).
   */
  async prepare(next: CheckConfig[]): Promise<CheckUpdate | string> {
    const unused = new Map<string, CheckLoop[]>();
    for (const loop of this.#loops) {
      const key = checkKey(loop.config);
      unused.set(key, [...unused.get(key) ?? [], loop]);
    }
    const fresh: CheckLoop[] = [];
    const kept: CheckLoop[] = [];
    const loops = next.map((check) => {
      const same = unused.get(checkKey(check))?.shift();
      if (same !== undefined) {
        kept.push(same);
        return same;
      }
      const loop = this.#newLoop(check, this.#healthy);
      fresh.push(loop);
      return loop;
    });
    const removed = [...unused.values()].flat();
    try {
      await spawnLoops(fresh);
    } catch (error: unknown) {
      await Promise.all(fresh.map((loop) => loop.stop()));
      return error instanceof Error ? error.message : String(error);
    }
    const ids = (list: CheckLoop[]) => list.map((loop) => loop.config.id);
    return {
      added: ids(fresh),
      kept: ids(kept),
      removed: ids(removed),
      commit: async () => {
        this.#loops = loops;
        for (const loop of fresh) loop.run();
        await Promise.all(removed.map((loop) => loop.stop()));
        this.#healthy = loops.every((loop) => loop.counter.healthy);
      },
      abort: async () => {
        await Promise.all(fresh.map((loop) => loop.stop()));
      },
    };
  }

  /** Stops the loops, kills running checks, terminates the Workers. */
  async stop(): Promise<void> {
    await Promise.all(this.#loops.map((loop) => loop.stop()));
  }

  /** True when every check is healthy (always, with no checks). */
  healthy(): boolean {
    return this.#healthy;
  }

  /** One snapshot per check, in config order. */
  status(): CheckStatus[] {
    return this.#loops.map((loop) => ({
      id: loop.config.id,
      command: loop.config.command,
      healthy: loop.counter.healthy,
      successesInRow: loop.counter.successesInRow,
      failuresInRow: loop.counter.failuresInRow,
      lastResult: loop.lastResult,
      rise: loop.config.rise,
      fall: loop.config.fall,
      lastDurationMs: loop.lastDurationMs,
    }));
  }

  /** Called when one check flipped: log it, and report the aggregate if it flipped. */
  #update(flipped: CheckLoop): void {
    const fields = {
      check: flipped.config.id,
      command: flipped.config.command,
      result: flipped.lastResult,
    };
    if (flipped.counter.healthy) this.#log.info("check passing", fields);
    else this.#log.warn("check failing", fields);
    const failing = this.#loops.filter((loop) => !loop.counter.healthy);
    const healthy = failing.length === 0;
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    const detail = healthy
      ? `all ${this.#loops.length} checks pass`
      : failing.map((loop) =>
        `check ${loop.config.id} failing: ${loop.lastResult}` +
        ` (${loop.counter.failuresInRow} in a row)`
      ).join("; ");
    (healthy ? this.#log.info : this.#log.warn).call(
      this.#log,
      healthy ? "node healthy" : "node unhealthy",
      { detail },
    );
    try {
      this.#options.onChange(healthy, detail);
    } catch (error: unknown) {
      this.#log.error("health listener threw", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
