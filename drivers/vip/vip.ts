/**
 * The `vip` driver, inside the resource Worker: keeps one address on one
 * interface exactly while this node is master.
 *
 * - promote: `ip addr replace` (add, idempotent), then announce without
 *   blocking the driver's queue: `announceCount` gratuitous ARPs (`arping -U`)
 *   or unsolicited neighbour advertisements (`na6`), then one more every
 *   `announceIntervalMs` while master, so clients' neighbour caches follow
 *   the address at once (keepalived's garp_master_* behaviour).
 * - demote, and at start (the Worker starts as backup): `ip addr del`.
 * - reconcile every `reconcileMs`: a master re-adds a missing address, a
 *   backup removes one it holds. Each repair is logged and counted.
 *
 * Every program run that adds or announces the address first checks the
 * fence (still master in the same term?), so a stale promote does nothing.
 */

import type { Fence, ResourceStats } from "../resource/shared.ts";
import { runProgram } from "../resource/program.ts";
import {
  type ApplyResult,
  type LogSink,
  type ResourceUnit,
  SerialLock,
  Ticker,
} from "../resource/unit.ts";

/** What the daemon sends for one vip driver (validated config). */
export interface VipUnitConfig {
  type: "vip";
  name: string;
  address: string;
  interface: string;
  label?: string;
  announceCount: number;
  announceIntervalMs: number;
  reconcileMs: number;
  ipProgram: string;
  announceProgram: string;
}

/** Longest an `ip` run may take. */
const IP_TIMEOUT_MS = 5000;

/** Gap between the announcements of one burst. */
const ANNOUNCE_GAP_MS = 100;

/** Longest one announcement run may take (`arping` waits 1 s for replies). */
const ANNOUNCE_TIMEOUT_MS = 3000;

/** Sleeps `ms`, or less when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** The address part, canonical as `ip` prints it (IPv6 compressed, lower case). */
function canonical(address: string): string {
  const [ip = "", bits = ""] = address.split("/");
  if (!ip.includes(":")) return `${ip}/${bits}`;
  const host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return `${host}/${bits}`;
}

/** The vip driver's state and timers. */
export class VipUnit implements ResourceUnit {
  readonly #config: VipUnitConfig;
  readonly #fence: Fence;
  readonly #stats: ResourceStats;
  readonly #log: LogSink;
  readonly #lock = new SerialLock();
  readonly #v6: boolean;
  readonly #address: string;
  readonly #reconciler: Ticker;
  readonly #refresher: Ticker | null;
  /** Term we are master in, or null as backup (the state at start). */
  #masterTerm: number | null = null;
  /** Aborts running announcements on demote and stop. */
  #announcing = new AbortController();

  constructor(
    config: VipUnitConfig,
    fence: Fence,
    stats: ResourceStats,
    log: LogSink,
  ) {
    this.#config = config;
    this.#fence = fence;
    this.#stats = stats;
    this.#log = log;
    this.#v6 = config.address.includes(":");
    this.#address = canonical(config.address);
    this.#reconciler = new Ticker(config.reconcileMs, () => this.#reconcile());
    this.#refresher = config.announceIntervalMs > 0
      ? new Ticker(config.announceIntervalMs, async () => {
        const term = this.#masterTerm;
        if (term !== null) await this.#announce(term, 1);
      })
      : null;
    // The first pass comes one interval after start: by then the daemon's
    // start demote has removed a leftover address, or a backup's pass does.
    this.#reconciler.start();
  }

  apply(event: "promote" | "demote", term: number): Promise<ApplyResult> {
    return this.#lock.run(async () => {
      if (event === "demote") return await this.#demote();
      if (!this.#fence.holds(term)) {
        return {
          ok: true,
          detail: `skipped: no longer master in term ${term}`,
        };
      }
      this.#masterTerm = term;
      const added = await this.#ip(["addr", "replace", ...this.#addrArgs()]);
      if (!added.ok) {
        return { ok: false, detail: `ip addr replace: ${added.why}` };
      }
      // Announce in the background: the driver's queue must not wait for it.
      this.#announcing = new AbortController();
      void this.#announce(term, this.#config.announceCount);
      this.#refresher?.start();
      return {
        ok: true,
        detail: `added ${this.#address} on ${this.#config.interface}`,
      };
    });
  }

  supersede(): void {
    // Announcements check the fence themselves; cut the running ones short.
    this.#announcing.abort();
  }

  async stop(): Promise<void> {
    this.#reconciler.stop();
    this.#refresher?.stop();
    this.#announcing.abort();
    await this.#lock.run(() => Promise.resolve());
  }

  async #demote(): Promise<ApplyResult> {
    this.#masterTerm = null;
    this.#refresher?.stop();
    this.#announcing.abort();
    const present = await this.#present();
    if (present === false) return { ok: true, detail: "address not held" };
    const removed = await this.#ip(["addr", "del", ...this.#addrArgs()]);
    if (!removed.ok) {
      return { ok: false, detail: `ip addr del: ${removed.why}` };
    }
    return {
      ok: true,
      detail: `removed ${this.#address} from ${this.#config.interface}`,
    };
  }

  #addrArgs(): string[] {
    const args = [this.#config.address, "dev", this.#config.interface];
    if (this.#config.label !== undefined) {
      args.push("label", this.#config.label);
    }
    // No duplicate address detection: the address must work at once, and the
    // election, not DAD, decides who may hold it.
    if (this.#v6) args.push("nodad");
    return args;
  }

  async #ip(
    args: string[],
  ): Promise<{ ok: boolean; why: string; output: string }> {
    const family = this.#v6 ? "-6" : "-4";
    const result = await runProgram(this.#config.ipProgram, [family, ...args], {
      timeoutMs: IP_TIMEOUT_MS,
    });
    return {
      ok: result.ok,
      why: result.error ?? `exit ${result.code}: ${result.output}`,
      output: result.output,
    };
  }

  /** Whether the interface holds the address; null when `ip` failed. */
  async #present(): Promise<boolean | null> {
    const shown = await this.#ip([
      "-o",
      "addr",
      "show",
      "dev",
      this.#config.interface,
    ]);
    if (!shown.ok) {
      this.#log("warn", "cannot list addresses", {
        driver: this.#config.name,
        error: shown.why,
      });
      return null;
    }
    const word = this.#v6 ? "inet6" : "inet";
    return shown.output.split("\n").some((line) => {
      const fields = line.trim().split(/\s+/);
      const at = fields.indexOf(word);
      return at >= 0 && fields[at + 1] === this.#address;
    });
  }

  /**
   * Sends `count` announcements, `ANNOUNCE_GAP_MS` apart, unless the term
   * ends first. One program run per packet: `arping` sends at once but then
   * waits a second for replies, so runs overlap instead of queueing.
   */
  async #announce(term: number, count: number): Promise<void> {
    const [ip = ""] = this.#config.address.split("/");
    const iface = this.#config.interface;
    const args = this.#v6
      // Unsolicited NA to all nodes: override flag, our link-layer address.
      ? ["-i", iface, "-t", ip, "-d", "ff02::1", "-o", "-e"]
      : ["-q", "-U", "-c", "1", "-I", iface, ip];
    const signal = this.#announcing.signal;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await abortableSleep(ANNOUNCE_GAP_MS, signal);
      if (
        signal.aborted || !this.#fence.holds(term) || this.#masterTerm !== term
      ) break;
      runs.push(this.#announceOnce(args, signal));
    }
    await Promise.all(runs);
  }

  async #announceOnce(args: string[], signal: AbortSignal): Promise<void> {
    const result = await runProgram(this.#config.announceProgram, args, {
      timeoutMs: ANNOUNCE_TIMEOUT_MS,
      signal,
    });
    if (result.ok) {
      this.#stats.add("announcements");
      return;
    }
    if (signal.aborted) return;
    this.#stats.add("announce_failures");
    this.#log("warn", "announcement failed", {
      driver: this.#config.name,
      program: this.#config.announceProgram,
      error: result.error ?? `exit ${result.code}: ${result.output}`,
    });
  }

  /** Compares the interface with the role and repairs a difference. */
  async #reconcile(): Promise<void> {
    await this.#lock.run(async () => {
      this.#stats.add("reconcile_runs");
      // The daemon's role now, from the fence: also right after this Worker
      // was restarted and before the queue applied the latest event.
      const role = this.#fence.current();
      const master = role.master;
      const term = master ? role.term : null;
      if (master && this.#masterTerm !== term) {
        this.#masterTerm = term;
        this.#refresher?.start();
      }
      const present = await this.#present();
      if (present === null || present === master) return;
      const verb = master ? "replace" : "del";
      const fixed = await this.#ip(["addr", verb, ...this.#addrArgs()]);
      const fields = {
        driver: this.#config.name,
        address: this.#address,
        interface: this.#config.interface,
      };
      if (!fixed.ok) {
        this.#log("error", "reconcile could not repair the VIP", {
          ...fields,
          error: fixed.why,
        });
        return;
      }
      this.#stats.add("repairs");
      this.#log(
        "warn",
        master
          ? "reconcile: VIP was missing on the master, re-added"
          : "reconcile: VIP was held by a backup, removed",
        fields,
      );
      if (master && term !== null) {
        this.#announcing = new AbortController();
        void this.#announce(term, this.#config.announceCount);
      }
    });
  }
}
