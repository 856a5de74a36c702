/**
 * Failure logging that an attacker cannot turn into a log flood: failures
 * are aggregated per source, a source gets at most one line per interval,
 * all sources together at most a few lines a second, and what was not
 * logged comes back as counts (per source, by reason) in a later line.
 * Owns one timer while counts wait; never throws.
 */

import type { LogFields, Logger } from "./log.ts";

/** Lines one source may produce per `SOURCE_INTERVAL_MS`. */
export const SOURCE_INTERVAL_MS = 10_000;
/** Lines all sources together may produce per second. */
export const LINES_PER_SECOND_MAX = 5;
/** Sources tracked at once; more are counted under `other`. */
export const SOURCES_TRACKED_MAX = 1024;
/** Summary lines written per interval; the rest are folded into one. */
export const SUMMARY_LINES_MAX = 8;

interface SourceEntry {
  lastLoggedMs: number;
  suppressed: number;
  reasons: Map<string, number>;
}

/** Options of `ThrottledLog`, for tests. */
export interface ThrottledLogOptions {
  nowMs?: () => number;
  sourceIntervalMs?: number;
  linesPerSecondMax?: number;
}

/** Rate-limited, per-source aggregated failure lines; see the module comment. */
export class ThrottledLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #sourceIntervalMs: number;
  readonly #linesPerSecondMax: number;
  #sources = new Map<string, SourceEntry>();
  #secondStartMs = -Infinity;
  #linesThisSecond = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Lines written and failures only counted, since start. */
  linesWritten = 0;
  suppressedTotal = 0;

  constructor(log: Logger, options: ThrottledLogOptions = {}) {
    this.#log = log;
    this.#now = options.nowMs ?? (() => performance.now());
    this.#sourceIntervalMs = options.sourceIntervalMs ?? SOURCE_INTERVAL_MS;
    this.#linesPerSecondMax = options.linesPerSecondMax ??
      LINES_PER_SECOND_MAX;
  }

  /**
   * Reports one failure of `reason` from `source`: written as a warning
   * with `fields` when the budgets allow, else counted for a summary.
   */
  report(
    source: string,
    reason: string,
    message: string,
    fields: LogFields = {},
  ): void {
    const now = this.#now();
    let key = source;
    if (!this.#sources.has(key) && this.#sources.size >= SOURCES_TRACKED_MAX) {
      key = "other";
    }
    let entry = this.#sources.get(key);
    if (entry === undefined) {
      entry = { lastLoggedMs: -Infinity, suppressed: 0, reasons: new Map() };
      this.#sources.set(key, entry);
    }
    if (
      now - entry.lastLoggedMs < this.#sourceIntervalMs || !this.#takeLine(now)
    ) {
      entry.suppressed += 1;
      entry.reasons.set(reason, (entry.reasons.get(reason) ?? 0) + 1);
      this.suppressedTotal += 1;
      this.#arm();
      return;
    }
    const earlier = entry.suppressed === 0 ? {} : {
      unlogged: entry.suppressed,
      unloggedReasons: describe(entry.reasons),
    };
    entry.lastLoggedMs = now;
    entry.suppressed = 0;
    entry.reasons.clear();
    this.linesWritten += 1;
    this.#log.warn(message, { source, reason, ...fields, ...earlier });
    this.#arm();
  }

  /** Stops the timer; counts not yet written are written now. */
  close(): void {
    this.#flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #takeLine(now: number): boolean {
    if (now - this.#secondStartMs >= 1000) {
      this.#secondStartMs = now;
      this.#linesThisSecond = 0;
    }
    if (this.#linesThisSecond >= this.#linesPerSecondMax) return false;
    this.#linesThisSecond += 1;
    return true;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
      if (this.#sources.size > 0) this.#arm();
    }, this.#sourceIntervalMs);
    // Pending counts must not keep a finished process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** Writes the counts of sources that were throttled; forgets idle ones. */
  #flush(): void {
    const now = this.#now();
    let lines = 0;
    let restSources = 0;
    let restFailures = 0;
    for (const [source, entry] of this.#sources) {
      if (entry.suppressed === 0) {
        if (now - entry.lastLoggedMs >= this.#sourceIntervalMs) {
          this.#sources.delete(source);
        }
        continue;
      }
      if (lines < SUMMARY_LINES_MAX) {
        lines += 1;
        this.linesWritten += 1;
        this.#log.warn("failures not logged one by one", {
          source,
          count: entry.suppressed,
          reasons: describe(entry.reasons),
        });
      } else {
        restSources += 1;
        restFailures += entry.suppressed;
      }
      entry.suppressed = 0;
      entry.reasons.clear();
      entry.lastLoggedMs = now;
    }
    if (restSources > 0) {
      this.linesWritten += 1;
      this.#log.warn("failures not logged one by one", {
        sources: restSources,
        count: restFailures,
      });
    }
  }
}

function describe(reasons: Map<string, number>): string {
  return [...reasons].sort(([a], [b]) => a < b ? -1 : 1).map(([r, n]) =>
    `${r}=${n}`
  ).join(",");
}
