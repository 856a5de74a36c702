import assert from "node:assert/strict";
import { Election } from "../../src/election/election.ts";
import { AssertionError } from "../../src/election/assert.ts";
import { E, H, L, Net, ofKind, options, voters } from "./_net.ts";

function elect(net: Net, untilMs = 1000): string {
  net.runUntil(untilMs);
  const masters = net.masters();
  assert.equal(masters.length, 1, `masters: ${masters.join(",")}`);
  return masters[0] ?? "";
}

function logEvents(net: Net, id: string, from = 0): string[] {
  return ofKind(net.effects(id, from), "log").map((e) => e.event);
}

Deno.test("check-quorum: a master cut off from the majority demotes when its lease runs out", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const from = net.log.length;
  const cutAt = net.nowMs;
  net.isolate(master);
  net.runUntil(cutAt + E, 1);
  const demote = net.log.slice(from).find((r) =>
    r.node === master && r.effect.kind === "demote"
  );
  assert.ok(demote !== undefined, "no demote");
  // It demotes by itself, within one lease of the last acked round.
  assert.ok(
    demote.atMs - cutAt <= L + 1,
    `demoted after ${demote.atMs - cutAt} ms`,
  );
  assert.ok(demote.effect.kind === "demote" && !demote.effect.handover);
  // Nobody else promoted before the old master demoted.
  const firstOther = net.log.slice(from).find((r) =>
    r.node !== master && r.effect.kind === "promote"
  );
  assert.ok(firstOther === undefined || firstOther.atMs >= demote.atMs);
  net.runUntil(cutAt + 4 * E);
  assert.equal(net.masters().length, 1);
  assert.notEqual(net.masters()[0], master);
});

Deno.test("a paused master demotes on resume before sending anything", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const node = net.node(master);
  const effects = node.step({ kind: "tick", nowMs: net.nowMs + 3 * E });
  const demote = effects.findIndex((e) => e.kind === "demote");
  const firstSend = effects.findIndex((e) => e.kind === "send");
  assert.ok(demote >= 0, JSON.stringify(effects));
  assert.ok(firstSend === -1 || firstSend > demote);
  assert.ok(effects.some((e) => e.kind === "log" && e.event === "stall"));
  assert.notEqual(node.status(net.nowMs + 3 * E).role, "master");
});

Deno.test("a paused master demotes on resume even when the first input is a message", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const other = master === "a" ? "b" : "a";
  const effects = net.node(master).step({
    kind: "message",
    nowMs: net.nowMs + 3 * E,
    from: other,
    message: {
      type: "state",
      term: 1,
      eligible: true,
      priority: 90,
      leaderId: null,
    },
  });
  assert.equal(effects[0]?.kind, "demote");
});

Deno.test("switchover demotes, waits for demote_done, then sends TimeoutNow and the target wins at once", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  assert.equal(master, "a");
  net.autoDemoteDone = false;
  const from = net.log.length;
  const effects = net.step("a", {
    kind: "command",
    nowMs: net.nowMs,
    requestId: "r1",
    command: { type: "switchover", to: "c" },
  });
  assert.deepEqual(ofKind(effects, "demote").map((e) => e.handover), [true]);
  assert.ok(
    !effects.some((e) => e.kind === "send" && e.message.type === "timeout_now"),
  );
  assert.notEqual(net.node("a").status(net.nowMs).role, "master");
  // Nothing moves until the demote drivers finished.
  net.runUntil(net.nowMs + 50, 5);
  assert.deepEqual(net.masters(), []);
  const doneAt = net.nowMs;
  const term = net.node("a").status(doneAt).term;
  const done = net.step("a", { kind: "demote_done", nowMs: doneAt, term });
  assert.ok(
    done.some((e) =>
      e.kind === "send" && e.to === "c" && e.message.type === "timeout_now"
    ),
  );
  assert.deepEqual(ofKind(done, "reply"), [{
    kind: "reply",
    requestId: "r1",
    ok: true,
    message: "handed over to c",
  }]);
  net.deliver();
  net.runUntil(doneAt + 20, 1);
  // c won without waiting E: the handover skipped pre-vote and the lease refusal.
  assert.deepEqual(net.masters(), ["c"]);
  assert.equal(net.node("c").status(net.nowMs).term, term + 1);
  assert.ok(!logEvents(net, "c", from).includes("pre_vote_granted"));
});

Deno.test("step() ignores a stale TimeoutNow", () => {
  const cases = [
    { name: "older term", term: 1, from: "a", reason: "stale_term" },
    {
      name: "not our leader",
      term: 2,
      from: "c",
      reason: "not_from_our_leader",
    },
  ];
  for (const c of cases) {
    const node = new Election(options("b", voters(100, 90, 80)));
    node.step({
      kind: "message",
      nowMs: 1000,
      from: "a",
      message: {
        type: "heartbeat",
        term: 2,
        round: 1,
        master: true,
        eligible: true,
        priority: 100,
      },
    });
    const effects = node.step({
      kind: "message",
      nowMs: 1001,
      from: c.from,
      message: { type: "timeout_now", term: c.term },
    });
    assert.ok(
      !effects.some((e) =>
        e.kind === "send" && e.message.type === "vote_request"
      ),
      c.name,
    );
    const ignored = ofKind(effects, "log").find((e) =>
      e.event === "timeout_now_ignored"
    );
    assert.equal(ignored?.fields.reason, c.reason, c.name);
    assert.equal(node.status(1001).term, 2, c.name);
  }
});

Deno.test("voters skip the lease refusal only for the exact master and term they follow", () => {
  const cases = [
    { name: "exact", claim: { leaderId: "a", term: 2 }, granted: true },
    { name: "other master", claim: { leaderId: "c", term: 2 }, granted: false },
    { name: "other term", claim: { leaderId: "a", term: 1 }, granted: false },
    { name: "no claim", claim: null, granted: false },
  ];
  for (const c of cases) {
    const node = new Election(options("b", voters(100, 90, 80)));
    node.step({
      kind: "message",
      nowMs: 1000,
      from: "a",
      message: {
        type: "heartbeat",
        term: 2,
        round: 1,
        master: true,
        eligible: true,
        priority: 100,
      },
    });
    const effects = node.step({
      kind: "message",
      nowMs: 1001,
      from: "c",
      message: { type: "vote_request", term: 3, handover: c.claim },
    });
    const answer = ofKind(effects, "send")[0]?.message;
    assert.ok(answer?.type === "vote_response", c.name);
    assert.equal(answer.granted, c.granted, c.name);
  }
});

Deno.test("a master whose check fails hands over to the best eligible node", () => {
  const net = new Net(voters(100, 90, 80));
  elect(net);
  net.step("a", { kind: "check", nowMs: net.nowMs, healthy: false });
  net.runUntil(net.nowMs + 100, 1);
  assert.deepEqual(net.masters(), ["b"]);
  assert.ok(logEvents(net, "a").includes("handover"));
});

Deno.test("min_hold delays a voluntary handover of a fresh master", () => {
  const net = new Net(voters(100, 90, 80), () => ({ minHoldMs: 2000 }));
  elect(net, 1000);
  const since = net.node("a").status(net.nowMs).masterSinceMs ?? 0;
  net.step("a", { kind: "check", nowMs: net.nowMs, healthy: false });
  net.runUntil(since + 2000 - 10, 5);
  assert.deepEqual(net.masters(), ["a"]);
  net.runUntil(since + 2000 + 100, 5);
  assert.deepEqual(net.masters(), ["b"]);
});

Deno.test("preempt hands the master role to a healthier higher-priority node after the delay", () => {
  const cases = [
    { preempt: true, expected: "a" },
    { preempt: false, expected: "b" },
  ];
  for (const c of cases) {
    const net = new Net(
      voters(200, 100, 50),
      () => ({ preempt: c.preempt, preemptDelayMs: 500 }),
    );
    // a is unhealthy at first, so b wins.
    net.step("a", { kind: "check", nowMs: 0, healthy: false });
    elect(net, 1000);
    assert.deepEqual(net.masters(), ["b"]);
    net.step("a", { kind: "check", nowMs: net.nowMs, healthy: true });
    net.runUntil(net.nowMs + 400, 5);
    assert.deepEqual(net.masters(), ["b"], "not before the preempt delay");
    net.runUntil(net.nowMs + 400, 5);
    assert.deepEqual(net.masters(), [c.expected], `preempt ${c.preempt}`);
  }
});

Deno.test("a pre_promote veto keeps the winner from promoting", () => {
  const net = new Net(voters(100, 90, 80), () => ({ prePromote: true }));
  net.prePromoteOk = (id) => id !== "a";
  net.runUntil(1000, 1);
  assert.ok(ofKind(net.effects("a"), "pre_promote").length >= 1);
  assert.equal(ofKind(net.effects("a"), "promote").length, 0);
  assert.ok(logEvents(net, "a").includes("pre_promote_veto"));
  // The vetoed winner handed over at once: b is master without waiting E.
  assert.deepEqual(net.masters(), ["b"]);
  const promoteB = net.log.find((r) =>
    r.node === "b" && r.effect.kind === "promote"
  );
  const vetoA = net.log.find((r) =>
    r.node === "a" && r.effect.kind === "log" &&
    r.effect.event === "pre_promote_veto"
  );
  assert.ok(promoteB !== undefined && vetoA !== undefined);
  assert.ok(promoteB.atMs - vetoA.atMs < 10);
});

Deno.test("the leader is not master while pre_promote runs", () => {
  const net = new Net(voters(100, 90, 80), () => ({ prePromote: true }));
  net.prePromoteOk = () => null;
  net.runUntil(1000, 5);
  const a = net.node("a").status(net.nowMs);
  assert.equal(a.state, "leader");
  assert.equal(a.role, "candidate");
  const term = a.term;
  const effects = net.step("a", {
    kind: "pre_promote_result",
    nowMs: net.nowMs,
    term,
    ok: true,
  });
  assert.deepEqual(ofKind(effects, "promote"), [
    { kind: "promote", term, reason: "elected" },
  ]);
});

Deno.test("shutdown on the master hands over and replies after demote_done", () => {
  const net = new Net(voters(100, 90, 80));
  elect(net);
  net.autoDemoteDone = false;
  const effects = net.step("a", {
    kind: "command",
    nowMs: net.nowMs,
    requestId: "bye",
    command: { type: "shutdown" },
  });
  assert.equal(ofKind(effects, "reply").length, 0);
  assert.equal(ofKind(effects, "demote")[0]?.handover, true);
  const term = net.node("a").status(net.nowMs).term;
  const done = net.step("a", { kind: "demote_done", nowMs: net.nowMs, term });
  assert.equal(ofKind(done, "reply")[0]?.ok, true);
  net.deliver();
  net.runUntil(net.nowMs + 50, 1);
  assert.deepEqual(net.masters(), ["b"]);
});

Deno.test("drain makes a node ineligible and undrain restores it", () => {
  const net = new Net(voters(100, 90, 80));
  elect(net);
  const effects = net.step("a", {
    kind: "command",
    nowMs: net.nowMs,
    requestId: "d",
    command: { type: "drain" },
  });
  assert.equal(ofKind(effects, "demote")[0]?.handover, true);
  net.runUntil(net.nowMs + 100, 1);
  assert.deepEqual(net.masters(), ["b"]);
  assert.equal(net.node("a").status(net.nowMs).eligible, false);
  net.step("a", {
    kind: "command",
    nowMs: net.nowMs,
    requestId: "u",
    command: { type: "undrain" },
  });
  assert.equal(net.node("a").status(net.nowMs).eligible, true);
});

Deno.test("switchover is refused when not master or when the target cannot lead", () => {
  const net = new Net([...voters(100, 90), {
    id: "w",
    role: "witness",
    priority: 0,
  }]);
  elect(net);
  const cases = [
    { node: "b", to: undefined, match: /not master \(master is a\)/ },
    { node: "a", to: "w", match: /is a witness/ },
    { node: "a", to: "zz", match: /not a member/ },
    { node: "a", to: "a", match: /already master/ },
  ];
  for (const c of cases) {
    const effects = net.step(c.node, {
      kind: "command",
      nowMs: net.nowMs,
      requestId: "x",
      command: c.to === undefined
        ? { type: "switchover" }
        : { type: "switchover", to: c.to },
    });
    const reply = ofKind(effects, "reply")[0];
    assert.equal(reply?.ok, false);
    assert.match(reply?.message ?? "", c.match);
  }
});

Deno.test("step() asserts when time goes backwards", () => {
  const node = new Election(options("a", voters(100, 90, 80)));
  node.step({ kind: "tick", nowMs: 100 });
  assert.throws(() => node.step({ kind: "tick", nowMs: 99 }), AssertionError);
});

Deno.test("Election refuses a lease that breaks L < E/(1+ρ)²", () => {
  assert.throws(
    () => new Election(options("a", voters(100), { leaseMs: E / 1.01 ** 2 })),
    /must be < E\/\(1\+ρ\)²/,
  );
  assert.ok(new Election(options("a", voters(100), { leaseMs: 0.9 * E })));
});

Deno.test("nextWakeMs() asks for a tick before the next renewal and never later than 1.25 h", () => {
  const net = new Net(voters(100, 90, 80));
  elect(net);
  for (const [id, node] of net.nodes) {
    const wake = node.nextWakeMs();
    // A follower's own gossip wake-up is at 1.25 h: it gossips from 0.75 h
    // on with the lease rounds it handles anyway (GOSSIP_*_FRACTION).
    assert.ok(
      wake >= net.nowMs && wake <= net.nowMs + 1.25 * H,
      `${id}: ${wake}`,
    );
  }
  assert.ok(net.node("a").nextWakeMs() <= net.nowMs + H / 2);
});
