import assert from "node:assert/strict";
import {
  clusterTable,
  disagreements,
  formatUptime,
  historyTable,
  type MemberRow,
} from "../../src/cli/_cluster_view.ts";
import type { MemberView } from "../../src/daemon/member_view.ts";
import { parseMemberView } from "../../src/daemon/member_view.ts";

function view(id: string, overrides: Partial<MemberView> = {}): MemberView {
  return {
    id,
    role: "backup",
    term: 4,
    master: "a",
    quorum: true,
    lease_remaining_ms: 0,
    eligible: true,
    ineligible: [],
    drained: false,
    paused: false,
    priority: 100,
    version: "0.1.0",
    uptime_ms: 65_000,
    connected: ["b", "c"],
    ...overrides,
  };
}

function row(id: string, v: MemberView | null, error: string | null = null) {
  return { id, url: `ws://${id}:7400`, view: v, error } satisfies MemberRow;
}

Deno.test("disagreements() names members that follow different masters and two self-declared masters", () => {
  const agree = [
    row("a", view("a", { role: "master" })),
    row("b", view("b")),
    row("c", null, "unreachable: c is not connected"),
  ];
  assert.deepEqual(disagreements(agree), []);
  const split = [
    row("a", view("a", { role: "master" })),
    row("b", view("b")),
    row("c", view("c", { role: "master", master: "c" })),
  ];
  const found = disagreements(split);
  assert.equal(found.length, 2);
  assert.match(found[0]!, /disagree on the master: a, b name a; c names c/);
  assert.match(found[1]!, /more than one member says it is master: a, c/);
});

Deno.test("clusterTable() prints every row, marks the unreachable one, flags a disagreement and says why not eligible", () => {
  const text = clusterTable({
    asked: "b",
    members: [
      row("a", view("a", { role: "master", lease_remaining_ms: 311 })),
      row("b", view("b", { eligible: false, ineligible: ["drained"] })),
      row("c", null, "unreachable: no answer from c within 2000 ms"),
      row("d", view("d", { master: "d", role: "master", paused: true })),
    ],
    disagreements: ["members disagree on the master: a, b name a; d names d"],
  });
  assert.match(text, /^cluster \(asked b\): master a, d; PAUSED/);
  assert.match(text, /^!! members disagree/m);
  assert.match(text, /^a\s+master\s+4\s+a\s+311\s+yes/m);
  assert.match(text, /^c\s+\?.*unreachable: no answer/m);
  assert.match(text, /^b not eligible: drained$/m);
  assert.match(text, /1m05s/);
});

Deno.test("formatUptime() and historyTable() read well", () => {
  assert.equal(formatUptime(4000), "4s");
  assert.equal(formatUptime(3_725_000), "1h02m");
  assert.equal(formatUptime(90_000_000), "1d01h");
  assert.equal(historyTable([]), "no role transitions recorded yet");
  assert.match(
    historyTable([{
      time: "2026-01-01T00:00:00.000Z",
      term: 2,
      node: "a",
      from: "backup",
      to: "master",
      reason: "elected",
    }]),
    /TIME\s+TERM\s+NODE\s+FROM\s+TO\s+REASON\n2026-01-01T00:00:00.000Z\s+2\s+a\s+backup\s+master\s+elected/,
  );
});

Deno.test("parseMemberView() refuses what a peer should not send", () => {
  assert.ok(parseMemberView(view("a")) !== null);
  assert.equal(parseMemberView({ ...view("a"), term: "4" }), null);
  assert.equal(parseMemberView({ ...view("a"), connected: [1] }), null);
  assert.equal(parseMemberView(null), null);
});
