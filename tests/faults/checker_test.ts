/**
 * Unit tests of the external checker on synthetic hook logs: it must be able
 * to fail (a dual master, two masters in one term, a fencing token going
 * back, no master after a heal) and must accept the logs a correct cluster
 * writes (kills, long and short SIGSTOPs, late hook lines).
 */
import assert from "node:assert/strict";
import {
  check,
  type CheckInput,
  type HookLine,
  type LifeEvent,
  livenessBoundMs,
} from "./_checker.ts";

const LEASE_MS = 360;
const BOUND_MS = 1000;

function line(
  atMs: number,
  node: string,
  event: "promote" | "demote",
  term: number,
): HookLine {
  return {
    atMs,
    node,
    event,
    term,
    master: event === "promote" ? node : "",
    reason: event === "promote" ? "elected" : "quorum_lost",
  };
}

function started(...nodes: string[]): LifeEvent[] {
  return nodes.map((node) => ({ atMs: 0, node, kind: "start" }));
}

function input(
  hooks: HookLine[],
  extra: Partial<CheckInput> = {},
): CheckInput {
  return {
    hooks,
    lifecycle: started("n1", "n2", "n3"),
    heals: [],
    leaseMs: LEASE_MS,
    livenessBoundMs: BOUND_MS,
    endMs: 100_000,
    ...extra,
  };
}

Deno.test("check() reports a dual master from overlapping hook intervals", () => {
  const report = check(input([
    line(1000, "n1", "promote", 1),
    line(5000, "n2", "promote", 2),
    line(5200, "n1", "demote", 1),
  ]));
  assert.equal(report.violations.length, 1);
  assert.match(report.violations[0] ?? "", /dual master for 200 ms: n1.*n2/);
});

Deno.test("check() accepts a failover where the old master demoted first", () => {
  const report = check(input([
    line(1000, "n1", "promote", 1),
    line(5000, "n1", "demote", 1),
    line(5100, "n2", "promote", 2),
  ]));
  assert.deepEqual(report.violations, []);
  assert.equal(report.promotions, 2);
  assert.equal(report.masterChanges, 1);
});

Deno.test("check() reports two masters in one term and a term going back", () => {
  const report = check(input([
    line(1000, "n1", "promote", 3),
    line(2000, "n1", "demote", 3),
    line(3000, "n2", "promote", 3),
    line(4000, "n2", "demote", 3),
    line(5000, "n3", "promote", 2),
  ]));
  assert.equal(report.violations.length, 2, report.violations.join("\n"));
  assert.match(report.violations[0] ?? "", /term 3 has two masters: n1 and n2/);
  assert.match(report.violations[1] ?? "", /fencing token went back: n3/);
});

Deno.test("check() ends a killed master's interval at the kill and skips late lines", () => {
  const lifecycle: LifeEvent[] = [
    ...started("n1", "n2", "n3"),
    { atMs: 4000, node: "n1", kind: "kill" },
  ];
  const report = check(input([
    line(1000, "n1", "promote", 1),
    // A demote hook of n1 that outlived the kill: late, not a new interval.
    line(4010, "n1", "promote", 1),
    line(4500, "n2", "promote", 2),
  ], { lifecycle }));
  assert.deepEqual(report.violations, []);
  assert.equal(report.lateLines, 1);
  assert.equal(report.intervals[0]?.toMs, 4000);
  assert.equal(report.intervals[0]?.end, "kill");
});

Deno.test("check() cuts a long-stopped master at stop + lease, not a short stop", () => {
  const long: LifeEvent[] = [
    ...started("n1", "n2", "n3"),
    { atMs: 2000, node: "n1", kind: "stop" },
    { atMs: 4000, node: "n1", kind: "cont" },
  ];
  const hooks = [
    line(1000, "n1", "promote", 1),
    line(2800, "n2", "promote", 2),
    line(4050, "n1", "demote", 1),
  ];
  const ok = check(input(hooks, { lifecycle: long }));
  assert.deepEqual(ok.violations, []);
  assert.equal(ok.intervals[0]?.toMs, 2000 + LEASE_MS);
  // A new master before stop + lease is a dual master even while n1 is frozen.
  const early = check(input([
    line(1000, "n1", "promote", 1),
    line(2100, "n2", "promote", 2),
    line(4050, "n1", "demote", 1),
  ], { lifecycle: long }));
  assert.equal(early.violations.length, 1);
  // A stop shorter than the lease does not end the interval.
  const short: LifeEvent[] = [
    ...started("n1", "n2", "n3"),
    { atMs: 2000, node: "n1", kind: "stop" },
    { atMs: 2100, node: "n1", kind: "cont" },
  ];
  const report = check(input(hooks, { lifecycle: short }));
  assert.equal(report.violations.length, 1);
});

Deno.test("check() reports a heal without a master within the bound", () => {
  const hooks = [
    line(1000, "n1", "promote", 1),
    line(3000, "n1", "demote", 1),
    line(9000, "n2", "promote", 2),
  ];
  const late = check(input(hooks, { heals: [3500] }));
  assert.equal(late.violations.length, 1);
  assert.match(late.violations[0] ?? "", /no master within 1000 ms/);
  const held = check(input(hooks, { heals: [2000, 8500] }));
  assert.deepEqual(held.violations, []);
  assert.equal(held.worstHealToMasterMs, 500);
});

Deno.test("livenessBoundMs() is E + (n-1)·Δ + 4 RTT + margin", () => {
  assert.equal(
    livenessBoundMs(
      { electionTimeoutMs: 400, rankDelayMs: 10, nodes: 3 },
      1000,
    ),
    400 + 20 + 20 + 1000,
  );
});
