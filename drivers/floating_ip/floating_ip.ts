/**
 * The `floating_ip` driver, inside the resource Worker: keeps a cloud
 * floating IP assigned to this machine while it is master.
 *
 * - promote in term T: read the holder; when it is not this machine, assign
 *   once, then read back (the action's status, then the holder) until the
 *   provider reports this machine, within `readbackMs`.
 * - demote: nothing to release (the next master takes the IP over); waits
 *   in flight end early and the fence stops every further call.
 * - reconcile every `reconcileMs` while master: a holder other than this
 *   machine is drift, repaired by assigning again (logged and counted).
 *
 * Every provider call made as master carries its term; `ApiClient` checks
 * the fence right before each attempt, so a demoted node never sends one.
 */

import { ApiClient, ApiError, FencedError } from "../cloud/http.ts";
import { Aws } from "../cloud/aws.ts";
import { DigitalOcean } from "../cloud/digitalocean.ts";
import { Hetzner } from "../cloud/hetzner.ts";
import type { Provider, ProviderSettings } from "../cloud/provider.ts";
import type { Fence, ResourceStats } from "../resource/shared.ts";
import {
  type ApplyResult,
  type LogSink,
  type ResourceUnit,
  SerialLock,
  Sleeper,
  Ticker,
} from "../resource/unit.ts";
import { describeError } from "../_protocol.ts";

/** What the daemon sends for one floating_ip driver (validated config). */
export interface FloatingIpUnitConfig extends ProviderSettings {
  type: "floating_ip";
  name: string;
  provider: "digitalocean" | "hetzner" | "aws";
  machineId?: string;
  timeoutMs: number;
  retries: number;
  readbackMs: number;
  reconcileMs: number;
}

/** First read-back poll waits this long; each next one doubles it. */
const READBACK_POLL_MIN_MS = 200;

/** Cap of one read-back poll wait. */
const READBACK_POLL_MAX_MS = 2000;

/** Most read-back polls of one assignment (the deadline usually ends it first). */
const READBACK_POLLS_MAX = 500;

function providerFor(config: FloatingIpUnitConfig, api: ApiClient): Provider {
  if (config.provider === "hetzner") return new Hetzner(config, api);
  if (config.provider === "aws") return new Aws(config, api);
  return new DigitalOcean(config, api);
}

/** The floating_ip driver's state and timers. */
export class FloatingIpUnit implements ResourceUnit {
  readonly #config: FloatingIpUnitConfig;
  readonly #fence: Fence;
  readonly #stats: ResourceStats;
  readonly #log: LogSink;
  readonly #sleeper = new Sleeper();
  readonly #lock = new SerialLock();
  readonly #provider: Provider;
  readonly #reconciler: Ticker;
  #machine: string | null;
  #masterTerm: number | null = null;

  constructor(
    config: FloatingIpUnitConfig,
    fence: Fence,
    stats: ResourceStats,
    log: LogSink,
  ) {
    this.#config = config;
    this.#fence = fence;
    this.#stats = stats;
    this.#log = log;
    this.#machine = config.machineId ?? null;
    this.#provider = providerFor(
      config,
      new ApiClient({
        driver: config.name,
        timeoutMs: config.timeoutMs,
        retries: config.retries,
        fence,
        stats,
        log,
        sleeper: this.#sleeper,
      }),
    );
    this.#reconciler = new Ticker(config.reconcileMs, () => this.#reconcile());
    this.#reconciler.start();
  }

  apply(event: "promote" | "demote", term: number): Promise<ApplyResult> {
    if (event === "demote") {
      // Not behind the lock: a running promote must see this at once.
      this.#masterTerm = null;
      this.#sleeper.wakeAll();
      return Promise.resolve({
        ok: true,
        detail: "nothing to release: the next master takes the IP over",
      });
    }
    return this.#lock.run(async () => {
      if (!this.#fence.holds(term)) {
        return {
          ok: true,
          detail: `skipped: no longer master in term ${term}`,
        };
      }
      this.#masterTerm = term;
      return await this.#ensure(term);
    });
  }

  supersede(): void {
    this.#sleeper.wakeAll();
  }

  async stop(): Promise<void> {
    this.#reconciler.stop();
    this.#masterTerm = null;
    this.#sleeper.wakeAll();
    await this.#lock.run(() => Promise.resolve());
  }

  async #machineId(): Promise<string> {
    if (this.#machine === null) {
      const id = await this.#provider.machineId();
      if (id === "") {
        throw new ApiError(
          "the metadata service gave an empty machine id",
          null,
        );
      }
      this.#machine = id;
      this.#log("info", "machine id read from the metadata service", {
        driver: this.#config.name,
        machine: id,
      });
    }
    return this.#machine;
  }

  /** Makes this machine the holder in `term`: assign when needed, then read back. */
  async #ensure(term: number): Promise<ApplyResult & { assigned: boolean }> {
    const fields = { driver: this.#config.name, ip: this.#config.ip, term };
    try {
      const machine = await this.#machineId();
      const holder = await this.#provider.holder(term);
      if (holder === machine) {
        return {
          ok: true,
          assigned: false,
          detail: `${this.#config.ip} already on ${machine}`,
        };
      }
      const startedMs = performance.now();
      const action = await this.#provider.assign(machine, term);
      await this.#readBack(machine, action, term);
      this.#stats.add("assignments");
      const ms = Math.round(performance.now() - startedMs);
      this.#log("info", "floating IP assigned and read back", {
        ...fields,
        from: holder,
        to: machine,
        duration_ms: ms,
      });
      return {
        ok: true,
        assigned: true,
        detail:
          `${this.#config.ip} moved from ${holder} to ${machine} in ${ms} ms`,
      };
    } catch (error: unknown) {
      if (error instanceof FencedError) {
        return {
          ok: true,
          assigned: false,
          detail: `stopped: ${error.message}`,
        };
      }
      const text = describeError(error).text;
      this.#log("error", "floating IP not assigned", {
        ...fields,
        error: text,
      });
      return { ok: false, assigned: false, detail: text };
    }
  }

  /** Polls the action, then the holder, until the provider reports `machine`. */
  async #readBack(
    machine: string,
    action: string | null,
    term: number,
  ): Promise<void> {
    const deadlineMs = performance.now() + this.#config.readbackMs;
    let waitMs = READBACK_POLL_MIN_MS;
    let actionDone = action === null;
    for (let poll = 0; poll < READBACK_POLLS_MAX; poll++) {
      if (!actionDone && action !== null) {
        const state = await this.#provider.actionState(action, term);
        if (state === "failed") {
          throw new ApiError(`action ${action} failed at the provider`, null);
        }
        actionDone = state === "done";
      }
      if (actionDone && await this.#provider.holder(term) === machine) return;
      if (performance.now() + waitMs > deadlineMs) break;
      await this.#sleeper.sleep(waitMs);
      if (!this.#fence.holds(term)) {
        this.#stats.add("fenced_calls");
        throw new FencedError(`read-back: term ${term} is over`);
      }
      waitMs = Math.min(waitMs * 2, READBACK_POLL_MAX_MS);
    }
    throw new ApiError(
      `the provider did not report ${this.#config.ip} on ${machine} within ${this.#config.readbackMs} ms`,
      null,
    );
  }

  async #reconcile(): Promise<void> {
    await this.#lock.run(async () => {
      // The daemon's role now, from the fence (also after a Worker restart).
      const role = this.#fence.current();
      if (!role.master) return;
      const term = role.term;
      this.#masterTerm = term;
      this.#stats.add("reconcile_runs");
      const result = await this.#ensure(term);
      if (result.assigned) {
        this.#stats.add("repairs");
        this.#log(
          "warn",
          "reconcile: floating IP had drifted to another machine, reassigned",
          {
            driver: this.#config.name,
            ip: this.#config.ip,
            term,
            detail: result.detail,
          },
        );
      }
    });
  }
}
