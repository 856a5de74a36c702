/**
 * The external checker of the fault suite and the soak. It sees only what an
 * operator could record outside clustd: the hooks' timestamp log and the
 * times the harness started, killed, stopped, continued or saw a node exit,
 * and when it healed every fault. From those it builds master intervals and
 * checks three rules:
 *
 * 1. No two master intervals of different nodes overlap. An interval runs
 *    from a promote hook line to the node's next demote hook line, cut at the
 *    node's kill/exit, and, when the node was SIGSTOPped for at least a lease,
 *    at stop time + lease (the lease bounds how long it may act; it must
 *    demote on resume without acting).
 * 2. Every term has at most one master, and promotion terms never go back
 *    (the fencing token of a later master is higher).
 * 3. After every heal a master exists within the liveness bound.
 *
 * Pure: no I/O, no clock. Must never pass a log it cannot explain.
 */

import type { HookLine } from "../_hook_log.ts";
import type { LifeEvent } from "../netns/_clustd_cluster.ts";

export type { HookLine, LifeEvent };

/** A master interval [fromMs, toMs). */
export interface MasterInterval {
  node: string;
  term: number;
  fromMs: number;
  toMs: number;
  /** Why it ended: demote line, kill, exit, stop+lease, or open. */
  end: "demote" | "kill" | "exit" | "stop+lease" | "open";
}

/** Input of `check()`. */
export interface CheckInput {
  hooks: readonly HookLine[];
  lifecycle: readonly LifeEvent[];
  /** Times every fault was healed and every node was up again. */
  heals: readonly number[];
  leaseMs: number;
  /** A master must exist within this long after each heal. */
  livenessBoundMs: number;
  /** End of the observation (intervals still open end here). */
  endMs: number;
}

/** What `check()` found. */
export interface CheckReport {
  intervals: MasterInterval[];
  /** Human-readable rule violations; empty when every rule holds. */
  violations: string[];
  promotions: number;
  /** Promotions of a node other than the previous master. */
  masterChanges: number;
  /** Hook lines written by a hook still running after its daemon was killed. */
  lateLines: number;
  /** Worst time from a heal to a master (0 when one already held). */
  worstHealToMasterMs: number;
}

interface Window {
  fromMs: number;
  toMs: number;
}

/** Per node: lifetimes [start, kill/exit) and stop windows [stop, cont). */
function windows(lifecycle: readonly LifeEvent[], endMs: number) {
  const lives = new Map<string, Window[]>();
  const stops = new Map<string, Window[]>();
  const sorted = [...lifecycle].sort((a, b) => a.atMs - b.atMs);
  const push = (map: Map<string, Window[]>, node: string, w: Window) => {
    const list = map.get(node) ?? [];
    list.push(w);
    map.set(node, list);
  };
  const lifeStart = new Map<string, number>();
  const stopStart = new Map<string, number>();
  for (const event of sorted) {
    const { node, atMs } = event;
    if (event.kind === "start") lifeStart.set(node, atMs);
    if (event.kind === "stop") stopStart.set(node, atMs);
    if (event.kind === "cont" || event.kind === "kill") {
      const from = stopStart.get(node);
      if (from !== undefined) push(stops, node, { fromMs: from, toMs: atMs });
      stopStart.delete(node);
    }
    if (event.kind === "kill" || event.kind === "exit") {
      const from = lifeStart.get(node);
      if (from !== undefined) push(lives, node, { fromMs: from, toMs: atMs });
      lifeStart.delete(node);
    }
  }
  for (const [node, from] of lifeStart) {
    push(lives, node, { fromMs: from, toMs: Infinity });
  }
  for (const [node, from] of stopStart) {
    push(stops, node, { fromMs: from, toMs: endMs });
  }
  return { lives, stops };
}

/** Master intervals from the hook log and the lifecycle (rule 1's input). */
export function masterIntervals(
  input: Pick<CheckInput, "hooks" | "lifecycle" | "leaseMs" | "endMs">,
): { intervals: MasterInterval[]; lateLines: number } {
  const { lives, stops } = windows(input.lifecycle, input.endMs);
  const intervals: MasterInterval[] = [];
  const open = new Map<string, { term: number; fromMs: number }>();
  let lateLines = 0;
  const sorted = [...input.hooks].sort((a, b) => a.atMs - b.atMs);
  const close = (node: string, toMs: number) => {
    const current = open.get(node);
    if (current === undefined) return;
    open.delete(node);
    intervals.push({ node, ...current, toMs, end: "demote" });
  };
  for (const line of sorted) {
    const life = (lives.get(line.node) ?? []).find((w) =>
      w.fromMs <= line.atMs && line.atMs < w.toMs
    );
    if (life === undefined) {
      // Written by a hook that outlived its killed daemon: the promotion it
      // reports happened before the kill, which already ended the interval.
      lateLines++;
      continue;
    }
    close(line.node, line.atMs);
    if (line.event === "promote") {
      open.set(line.node, { term: line.term, fromMs: line.atMs });
    }
  }
  for (const [node, current] of open) {
    intervals.push({ node, ...current, toMs: input.endMs, end: "open" });
  }
  for (const interval of intervals) cut(interval, lives, stops, input.leaseMs);
  intervals.sort((a, b) => a.fromMs - b.fromMs);
  return { intervals, lateLines };
}

/** Ends an interval at its node's death, or at stop + lease after a long stop. */
function cut(
  interval: MasterInterval,
  lives: Map<string, Window[]>,
  stops: Map<string, Window[]>,
  leaseMs: number,
): void {
  const life = (lives.get(interval.node) ?? []).find((w) =>
    w.fromMs <= interval.fromMs && interval.fromMs < w.toMs
  );
  if (life !== undefined && life.toMs < interval.toMs) {
    interval.toMs = life.toMs;
    interval.end = "kill";
  }
  for (const stop of stops.get(interval.node) ?? []) {
    // A stop shorter than the lease may resume with the lease still valid.
    if (stop.toMs - stop.fromMs < leaseMs) continue;
    if (interval.fromMs >= stop.toMs) continue;
    const limit = Math.max(interval.fromMs, stop.fromMs + leaseMs);
    if (interval.toMs > limit) {
      interval.toMs = limit;
      interval.end = "stop+lease";
    }
  }
}

function overlapViolations(intervals: readonly MasterInterval[]): string[] {
  const out: string[] = [];
  const show = (i: MasterInterval) =>
    `${i.node}[t${i.term} ${i.fromMs}..${i.toMs} ${i.end}]`;
  for (const [index, a] of intervals.entries()) {
    for (const b of intervals.slice(index + 1)) {
      if (b.fromMs >= a.toMs) continue;
      if (a.node === b.node || a.toMs <= a.fromMs || b.toMs <= b.fromMs) {
        continue;
      }
      const overlapMs = Math.min(a.toMs, b.toMs) - b.fromMs;
      out.push(
        `dual master for ${overlapMs} ms: ${show(a)} overlaps ${show(b)}`,
      );
    }
  }
  return out;
}

function termViolations(hooks: readonly HookLine[]): string[] {
  const out: string[] = [];
  const byTerm = new Map<number, string>();
  let last: HookLine | null = null;
  const promotes = hooks.filter((h) => h.event === "promote").sort((a, b) =>
    a.atMs - b.atMs
  );
  for (const line of promotes) {
    const holder = byTerm.get(line.term);
    if (holder !== undefined && holder !== line.node) {
      out.push(
        `term ${line.term} has two masters: ${holder} and ${line.node} (at ${line.atMs})`,
      );
    }
    byTerm.set(line.term, line.node);
    if (last !== null && line.term < last.term) {
      out.push(
        `fencing token went back: ${line.node} promoted in term ${line.term} at ${line.atMs} after ${last.node} in term ${last.term}`,
      );
    }
    last = line;
  }
  return out;
}

/** Time from `healMs` to the first instant a master holds, or null past the bound. */
function healToMaster(
  intervals: readonly MasterInterval[],
  healMs: number,
  boundMs: number,
): number | null {
  let best: number | null = null;
  for (const i of intervals) {
    if (i.toMs <= healMs || i.toMs <= i.fromMs) continue;
    const wait = Math.max(0, i.fromMs - healMs);
    if (wait <= boundMs && (best === null || wait < best)) best = wait;
  }
  return best;
}

/** Checks every rule over a whole run. */
export function check(input: CheckInput): CheckReport {
  const { intervals, lateLines } = masterIntervals(input);
  const violations = [
    ...overlapViolations(intervals),
    ...termViolations(input.hooks),
  ];
  let worst = 0;
  for (const healMs of input.heals) {
    // A heal too close to the end of the run cannot be judged yet.
    if (healMs + input.livenessBoundMs > input.endMs) continue;
    const wait = healToMaster(intervals, healMs, input.livenessBoundMs);
    if (wait === null) {
      violations.push(
        `no master within ${input.livenessBoundMs} ms of the heal at ${healMs}`,
      );
    } else worst = Math.max(worst, wait);
  }
  let masterChanges = 0;
  let previous: string | null = null;
  for (const line of [...input.hooks].sort((a, b) => a.atMs - b.atMs)) {
    if (line.event !== "promote") continue;
    if (previous !== null && line.node !== previous) masterChanges++;
    previous = line.node;
  }
  return {
    intervals,
    violations,
    promotions: input.hooks.filter((h) => h.event === "promote").length,
    masterChanges,
    lateLines,
    worstHealToMasterMs: worst,
  };
}

/** The liveness bound E + (n−1)·Δ + 4 RTT + margin (DESIGN §1 invariant 5). */
export function livenessBoundMs(
  timing: { electionTimeoutMs: number; rankDelayMs: number; nodes: number },
  marginMs: number,
  rttMs = 5,
): number {
  return timing.electionTimeoutMs + (timing.nodes - 1) * timing.rankDelayMs +
    4 * rttMs + marginMs;
}
