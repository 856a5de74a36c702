/**
 * The etcd election core, one rule per test (etcd-io/raft's paper tests):
 * start demote, keepalive cadence, the lease counted from the send time,
 * self-demotion before etcd could expire the key, pause (SIGSTOP) safety,
 * ranking, handover order, pause, fencing token, stale keys, bad records.
 * No etcd here: the tests play etcd's answers.
 */

import assert from "node:assert/strict";
import {
  CLOCK_DRIFT_RHO,
  DEMOTE_MARGIN_SHARE,
  EtcdElection,
  RENEWS_PER_TTL,
} from "../../src/etcd_election/core.ts";
import type {
  EtcdEffect,
  EtcdElectionOptions,
  EtcdRequest,
  KeyChange,
} from "../../src/etcd_election/types.ts";

const TTL_MS = 3000;
const DELTA_MS = 100;
const RENEW_MS = TTL_MS / RENEWS_PER_TTL;
/** How long after a keepalive's send time a master may act: T/(1+ρ)² − T/4. */
const MASTER_MS = TTL_MS / (1 + CLOCK_DRIFT_RHO) ** 2 -
  TTL_MS * DEMOTE_MARGIN_SHARE;

function node(
  id = "a",
  priority = 100,
  extra: Partial<EtcdElectionOptions> = {},
): EtcdElection {
  return new EtcdElection({
    selfId: id,
    role: "voter",
    priority,
    ttlMs: TTL_MS,
    rankDelayMs: DELTA_MS,
    startMs: 0,
    ...extra,
  });
}

function requests(effects: EtcdEffect[]): EtcdRequest[] {
  return effects.flatMap((e) => e.kind === "etcd" ? [e.request] : []);
}

function kinds(effects: EtcdEffect[]): string[] {
  return effects.filter((e) => e.kind !== "log").map((e) =>
    e.kind === "etcd" ? e.request.kind : e.kind
  );
}

function member(id: string, priority: number, revision: number): KeyChange {
  return {
    key: { kind: "member", id },
    value: JSON.stringify({ id, role: "voter", priority, eligible: true }),
    createRevision: revision,
    modRevision: revision,
    lease: "9",
  };
}

function masterKey(
  holder: string | null,
  revision: number,
  lease = "9",
): KeyChange {
  return {
    key: { kind: "master" },
    value: holder,
    createRevision: holder === null ? 0 : revision,
    modRevision: revision,
    lease,
  };
}

/** Grants lease "L1" at t=0 and delivers an empty snapshot with `members`. */
function started(e: EtcdElection, members: KeyChange[] = []): void {
  const first = e.step({ kind: "tick", nowMs: 0 });
  assert.deepEqual(requests(first).map((r) => r.kind), ["grant"]);
  e.step({ kind: "granted", nowMs: 5, leaseId: "L1", ttlSec: TTL_MS / 1000 });
  e.step({ kind: "snapshot", nowMs: 10, revision: 10, changes: members });
}

/** Runs `e` to its campaign and wins with create revision `revision`. */
function elect(e: EtcdElection, revision = 20): number {
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, e.nextWakeMs());
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  const out = e.step({
    kind: "campaigned",
    nowMs: now + 1,
    leaseId: "L1",
    won: true,
    master: { holder: e.status(now).id, createRevision: revision, lease: "L1" },
  });
  assert.ok(out.some((x) => x.kind === "promote" && x.term === revision));
  return now + 1;
}

function answerKeepalives(e: EtcdElection, out: EtcdEffect[], now: number) {
  for (const r of requests(out)) {
    if (r.kind === "keepalive") {
      e.step({ kind: "renewed", nowMs: now, leaseId: r.leaseId, ttlSec: 3 });
    }
  }
}

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

/** Runs `e` to its campaign and answers it won (no promote check). */
function win(
  e: EtcdElection,
  revision = 20,
): { now: number; out: EtcdEffect[] } {
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  const out = e.step({
    kind: "campaigned",
    nowMs: now + 1,
    leaseId: "L1",
    won: true,
    master: { holder: e.status(now).id, createRevision: revision, lease: "L1" },
  });
  return { now: now + 1, out };
}

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
