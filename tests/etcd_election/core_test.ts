/**
 * The etcd election core, one rule per test (etcd-io/raft's paper tests):
 * start demote, keepalive cadence, the lease counted from the send time,
 * self-demotion before etcd could expire the key, pause (SIGSTOP) safety,
 * ranking, pause, fencing token, stale keys, bad records. No etcd here: the
 * tests play etcd's answers (_core.ts).
 */

import assert from "node:assert/strict";
import {
  answerKeepalives,
  DELTA_MS,
  elect,
  MASTER_MS,
  masterKey,
  member,
  node,
  RENEW_MS,
  requests,
  started,
  TTL_MS,
} from "./_core.ts";

Deno.test("step() tells the drivers demote (reason start) before anything else", () => {
  const out = node().step({ kind: "tick", nowMs: 0 });
  assert.deepEqual(out[0], {
    kind: "demote",
    term: 0,
    reason: "start",
    handover: false,
  });
});

Deno.test("step() sends a keepalive every T/6 with one in flight at most", () => {
  const e = node();
  started(e);
  assert.equal(e.nextWakeMs() <= RENEW_MS, true);
  const sent = requests(e.step({ kind: "tick", nowMs: RENEW_MS }));
  assert.deepEqual(sent.map((r) => r.kind), ["keepalive"]);
  // Unanswered: no second keepalive.
  const again = requests(e.step({ kind: "tick", nowMs: 2 * RENEW_MS }));
  assert.equal(again.filter((r) => r.kind === "keepalive").length, 0);
});

Deno.test("the master's lease counts from the keepalive's send time, not its answer", () => {
  const e = node();
  started(e);
  const t = elect(e);
  const sendAt = Math.ceil(e.nextWakeMs());
  const out = e.step({ kind: "tick", nowMs: sendAt });
  assert.ok(requests(out).some((r) => r.kind === "keepalive"));
  // The answer comes very late; validity still counts from sendAt.
  e.step({ kind: "renewed", nowMs: sendAt + 1500, leaseId: "L1", ttlSec: 3 });
  assert.ok(e.isMaster(sendAt + MASTER_MS - 1));
  assert.ok(!e.isMaster(sendAt + MASTER_MS + 1));
  assert.ok(t < sendAt);
});

Deno.test("a master that cannot renew demotes by itself before etcd could expire its key", () => {
  const e = node();
  started(e);
  const t = elect(e);
  let now = t;
  let demotedAt: number | null = null;
  let lastSent = 5;
  for (let i = 0; i < 200 && demotedAt === null; i++) {
    now = Math.max(now + 1, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    for (const r of requests(out)) {
      if (r.kind === "keepalive") {
        lastSent = now;
        e.step({ kind: "renew_failed", nowMs: now, leaseId: "L1", error: "x" });
      }
    }
    const demote = out.find((x) => x.kind === "demote");
    if (demote?.kind === "demote") {
      assert.equal(demote.reason, "quorum_lost");
      assert.ok(requests(out).some((r) => r.kind === "revoke"));
      demotedAt = now;
    }
  }
  assert.ok(demotedAt !== null, "never demoted");
  // The last renewal that succeeded was sent no later than the first failed
  // one; etcd keeps the key at least TTL after that.
  assert.ok(
    demotedAt < lastSent + TTL_MS,
    `${demotedAt} ≥ ${lastSent + TTL_MS}`,
  );
  assert.ok(demotedAt <= t + MASTER_MS + 1);
});

Deno.test("a master resuming from a pause demotes on its first input, before anything else", () => {
  const e = node();
  started(e);
  const t = elect(e);
  const out = e.step({
    kind: "changes",
    nowMs: t + 10 * TTL_MS,
    changes: [member("b", 90, 30)],
  });
  const firstRoleEffect = out.find((x) => x.kind !== "log");
  assert.equal(firstRoleEffect?.kind, "demote");
  assert.ok(!out.some((x) => x.kind === "promote"));
  assert.ok(!e.isMaster(t + 10 * TTL_MS));
});

Deno.test("no campaign before the first full read of the prefix", () => {
  const e = node();
  e.step({ kind: "tick", nowMs: 0 });
  e.step({ kind: "granted", nowMs: 5, leaseId: "L1", ttlSec: 3 });
  const out = e.step({ kind: "tick", nowMs: 2000 });
  assert.ok(!requests(out).some((r) => r.kind === "campaign"));
});

Deno.test("the k-th ranked eligible node campaigns k·Δ after the key is gone", () => {
  const members = [member("a", 100, 3), member("b", 90, 4), member("c", 80, 5)];
  const campaignTime = (id: string, priority: number) => {
    const e = node(id, priority);
    started(e, members);
    let now = 10;
    for (let i = 0; i < 100; i++) {
      now = Math.max(now, Math.ceil(e.nextWakeMs()));
      const out = e.step({ kind: "tick", nowMs: now });
      answerKeepalives(e, out, now);
      if (requests(out).some((r) => r.kind === "campaign")) return now;
    }
    return -1;
  };
  const a = campaignTime("a", 100);
  const c = campaignTime("c", 80);
  assert.ok(a >= 0 && c >= 0);
  assert.equal(c - a, 2 * DELTA_MS);
});

Deno.test("a lost campaign follows the holder; a won one promotes with the create revision as token", () => {
  const e = node();
  started(e);
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  const lost = e.step({
    kind: "campaigned",
    nowMs: now + 1,
    leaseId: "L1",
    won: false,
    master: { holder: "b", createRevision: 41, lease: "L9" },
  });
  assert.ok(!lost.some((x) => x.kind === "promote"));
  const status = e.status(now + 1);
  assert.equal(status.masterId, "b");
  assert.equal(status.term, 41);
  assert.equal(status.role, "backup");
});

Deno.test("while paused nobody campaigns; after resume the ranking starts afresh", () => {
  const e = node();
  started(e, [{
    key: { kind: "pause" },
    value: "paused",
    createRevision: 2,
    modRevision: 2,
    lease: "0",
  }]);
  let now = 10;
  for (let i = 0; i < 20; i++) {
    now += RENEW_MS;
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    assert.ok(!requests(out).some((r) => r.kind === "campaign"));
  }
  const resumed = e.step({
    kind: "changes",
    nowMs: now,
    changes: [{
      key: { kind: "pause" },
      value: null,
      createRevision: 0,
      modRevision: 11,
      lease: "0",
    }],
  });
  assert.ok(requests(resumed).some((r) => r.kind === "campaign"));
});

Deno.test("the master key vanishing under a master demotes it at once", () => {
  const e = node();
  started(e);
  const t = elect(e);
  const out = e.step({
    kind: "changes",
    nowMs: t + 1,
    changes: [masterKey(null, 30)],
  });
  const demote = out.find((x) => x.kind === "demote");
  assert.ok(demote?.kind === "demote" && demote.reason === "lease_expired");
});

Deno.test("a master key left by an earlier run of this node is revoked", () => {
  const e = node();
  started(e, [masterKey("a", 5, "OLD")]);
  const out = e.step({
    kind: "changes",
    nowMs: 20,
    changes: [member("b", 1, 11)],
  });
  // The revoke was asked on the snapshot; a later view does not repeat the
  // promotion of a key we do not hold.
  assert.ok(!out.some((x) => x.kind === "promote"));
  const again = node();
  again.step({ kind: "tick", nowMs: 0 });
  again.step({ kind: "granted", nowMs: 5, leaseId: "L1", ttlSec: 3 });
  const snap = again.step({
    kind: "snapshot",
    nowMs: 10,
    revision: 10,
    changes: [masterKey("a", 5, "OLD")],
  });
  assert.ok(
    requests(snap).some((r) => r.kind === "revoke" && r.leaseId === "OLD"),
  );
});

Deno.test("member records that do not parse are ignored", () => {
  const e = node();
  started(e, [
    {
      key: { kind: "member", id: "x" },
      value: "{not json",
      createRevision: 2,
      modRevision: 2,
      lease: "1",
    },
    {
      key: { kind: "member", id: "y" },
      value: JSON.stringify({ id: "z", role: "voter", priority: 1 }),
      createRevision: 3,
      modRevision: 3,
      lease: "1",
    },
    member("b", 90, 4),
  ]);
  assert.deepEqual(e.status(20).members.map((m) => m.id), ["a", "b"]);
});

Deno.test("a campaign whose answer was lost still promotes once the watch shows our key", () => {
  const e = node();
  started(e);
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  e.step({ kind: "campaign_failed", nowMs: now + 1, error: "timeout" });
  const out = e.step({
    kind: "changes",
    nowMs: now + 2,
    changes: [masterKey("a", 20, "L1")],
  });
  assert.ok(out.some((x) => x.kind === "promote" && x.term === 20));
  assert.ok(e.isMaster(now + 2));
});

Deno.test("with the shell's start demote, no campaign before start_demote_done", () => {
  const e = node("a", 100, { startDemote: true });
  const first = e.step({ kind: "tick", nowMs: 0 });
  assert.ok(!first.some((x) => x.kind === "demote"));
  e.step({ kind: "granted", nowMs: 5, leaseId: "L1", ttlSec: 3 });
  e.step({ kind: "snapshot", nowMs: 10, revision: 10, changes: [] });
  let now = 10;
  for (let i = 0; i < 10; i++) {
    now += RENEW_MS;
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    assert.ok(!requests(out).some((r) => r.kind === "campaign"));
  }
  const done = e.step({ kind: "start_demote_done", nowMs: now + 1 });
  assert.ok(requests(done).some((r) => r.kind === "campaign"));
});

Deno.test("changes of one transaction (same revision) all apply", () => {
  const e = node("c", 80);
  started(e, [member("a", 100, 3), masterKey("a", 4)]);
  // The resign deletes the key and writes the handover key in one revision.
  const out = e.step({
    kind: "changes",
    nowMs: 20,
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
  assert.ok(requests(out).some((r) => r.kind === "campaign"));
});
