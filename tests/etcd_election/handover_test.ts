/**
 * The etcd election core's planned handovers and their guards: switchover
 * (demote first, resign after), refusals, the handover key, failing checks,
 * preempt, pre_promote approve and veto, and a resign racing the watch.
 */

import assert from "node:assert/strict";
import type { EtcdEffect } from "../../src/etcd_election/types.ts";
import {
  answerKeepalives,
  elect,
  kinds,
  masterKey,
  member,
  node,
  requests,
  started,
  win,
} from "./_core.ts";

Deno.test("switchover: demote drivers first, the resign only after demote_done", () => {
  const e = node();
  started(e, [member("b", 90, 3)]);
  const t = elect(e);
  const out = e.step({
    kind: "command",
    nowMs: t + 1,
    requestId: "r1",
    command: { type: "switchover", to: "b" },
  });
  assert.deepEqual(kinds(out).filter((k) => k !== "publish"), ["demote"]);
  assert.ok(!e.isMaster(t + 1));
  const done = e.step({ kind: "demote_done", nowMs: t + 2, term: 20 });
  const resign = requests(done).find((r) => r.kind === "resign");
  assert.deepEqual(resign, {
    kind: "resign",
    leaseId: "L1",
    handover: { from: "a", to: "b" },
  });
  const replied = e.step({
    kind: "resigned",
    nowMs: t + 3,
    ok: true,
    error: null,
  });
  assert.ok(replied.some((x) => x.kind === "reply" && x.ok));
});

Deno.test("switchover to an unknown or ineligible member is refused with the reason", () => {
  const e = node();
  started(e, [member("b", 0, 3)]);
  const t = elect(e);
  const out = e.step({
    kind: "command",
    nowMs: t + 1,
    requestId: "r1",
    command: { type: "switchover", to: "zz" },
  });
  const reply = out.find((x) => x.kind === "reply");
  assert.ok(reply?.kind === "reply" && !reply.ok);
  assert.match(reply.message, /"zz" is not a live member/);
});

Deno.test("a handover target campaigns at once; the others give it one TTL", () => {
  const handover = (id: string) => {
    const e = node(id, id === "b" ? 90 : 80);
    started(e, [
      member("a", 100, 3),
      member("b", 90, 4),
      member("c", 80, 5),
      masterKey("a", 6),
    ]);
    return e.step({
      kind: "changes",
      nowMs: 2000,
      changes: [
        masterKey(null, 12),
        {
          key: { kind: "handover" },
          value: JSON.stringify({ from: "a", to: "c" }),
          createRevision: 12,
          modRevision: 12,
          lease: "9",
        },
      ],
    });
  };
  assert.ok(requests(handover("c")).some((r) => r.kind === "campaign"));
  assert.ok(!requests(handover("b")).some((r) => r.kind === "campaign"));
});

Deno.test("a master whose checks fail hands over to the best other eligible node", () => {
  const e = node();
  started(e, [member("b", 90, 3)]);
  const t = elect(e);
  const out = e.step({ kind: "check", nowMs: t + 1, healthy: false });
  const demote = out.find((x) => x.kind === "demote");
  assert.ok(
    demote?.kind === "demote" && demote.reason === "check_failed" &&
      demote.handover,
  );
});

Deno.test("with pre_promote, a won key promotes only after the hook approves", () => {
  const e = node("a", 100, { prePromote: true });
  started(e);
  const { now, out } = win(e);
  assert.deepEqual(kinds(out).filter((k) => k !== "publish"), ["pre_promote"]);
  assert.ok(!e.isMaster(now));
  const approved = e.step({
    kind: "pre_promote_result",
    nowMs: now + 1,
    term: 20,
    ok: true,
  });
  assert.ok(approved.some((x) => x.kind === "promote" && x.term === 20));
});

Deno.test("a pre_promote veto gives the key up for the best other node, without a demote", () => {
  const e = node("a", 100, { prePromote: true });
  started(e, [member("b", 90, 3)]);
  const { now } = win(e);
  const vetoed = e.step({
    kind: "pre_promote_result",
    nowMs: now + 1,
    term: 20,
    ok: false,
  });
  assert.ok(!vetoed.some((x) => x.kind === "demote" || x.kind === "promote"));
  assert.deepEqual(requests(vetoed).find((r) => r.kind === "resign"), {
    kind: "resign",
    leaseId: "L1",
    handover: { from: "a", to: "b" },
  });
  assert.equal(e.status(now + 2).eligible, false);
});

Deno.test("with preempt, a master hands over to a better node after min_hold and preempt_delay", () => {
  const e = node("b", 90, {
    preempt: true,
    preemptDelayMs: 500,
    minHoldMs: 1000,
  });
  started(e);
  const t = elect(e);
  // A better node appears right away; nothing before hold and delay.
  const early = e.step({
    kind: "changes",
    nowMs: t + 1,
    changes: [member("a", 100, 30)],
  });
  assert.ok(!early.some((x) => x.kind === "demote"));
  let now = t + 1;
  let demote: EtcdEffect | undefined;
  for (let i = 0; i < 50 && demote === undefined; i++) {
    now = Math.max(now + 1, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    demote = out.find((x) => x.kind === "demote");
  }
  assert.ok(
    demote?.kind === "demote" && demote.reason === "preempted" &&
      demote.handover,
  );
  assert.ok(now - t >= 1000, `preempted after ${now - t} ms`);
});

Deno.test("a handover without a target asks nobody to wait", () => {
  const e = node("b", 90);
  started(e, [member("a", 100, 3), masterKey("a", 4)]);
  const out = e.step({
    kind: "changes",
    nowMs: 2000,
    changes: [
      masterKey(null, 12),
      {
        key: { kind: "handover" },
        value: JSON.stringify({ from: "a", to: null }),
        createRevision: 12,
        modRevision: 12,
        lease: "9",
      },
    ],
  });
  // b is the best eligible node once a (leaving) is excluded: rank 0.
  assert.ok(requests(out).some((r) => r.kind === "campaign"));
});

Deno.test("after its resign, a master does not take its old key back from a view that lags", () => {
  const e = node();
  started(e, [member("b", 90, 3)]);
  const t = elect(e);
  e.step({
    kind: "command",
    nowMs: t + 1,
    requestId: "r1",
    command: { type: "switchover", to: "b" },
  });
  e.step({ kind: "demote_done", nowMs: t + 2, term: 20 });
  e.step({ kind: "resigned", nowMs: t + 3, ok: true, error: null });
  // A watch batch written before the resign arrives after its answer.
  const out = e.step({
    kind: "changes",
    nowMs: t + 4,
    changes: [member("b", 90, 25)],
  });
  assert.ok(!out.some((x) => x.kind === "promote"));
  assert.ok(!e.isMaster(t + 4));
});
