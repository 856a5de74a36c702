/**
 * The core's rules for "one holder of the resource" (issue 10), one test per
 * rule: the start-demote gate, the step-down margin, the reason of every
 * promote and demote, and ranking by the priority each node advertises.
 */
import assert from "node:assert/strict";
import { Election } from "../../src/election/election.ts";
import { stepDownMarginMs } from "../../src/election/lease.ts";
import {
  DEMOTE_REASONS,
  type Effect,
  type Message,
} from "../../src/election/types.ts";
import { E, H, L, Net, ofKind, options, voters } from "./_net.ts";

function elect(net: Net, untilMs = 1000): string {
  net.runUntil(untilMs);
  const masters = net.masters();
  assert.equal(masters.length, 1, `masters: ${masters.join(",")}`);
  return masters[0] ?? "";
}

function state(priority: number, eligible = true): Message {
  return { type: "state", term: 0, eligible, priority, leaderId: null };
}

function sends(effects: Effect[], type: Message["type"]): Message[] {
  return ofKind(effects, "send").map((e) => e.message).filter((m) =>
    m.type === type
  );
}

Deno.test("step() keeps a node ineligible until its start demote finished", () => {
  const node = new Election(options("a", voters(100, 90, 80), {
    startDemote: true,
  }));
  node.step({ kind: "peer_up", nowMs: 0, peer: "b" });
  // Long past the restart embargo: still no campaign, and it says so.
  let effects: Effect[] = [];
  for (let t = 0; t <= 5 * E; t += 10) {
    effects.push(...node.step({ kind: "tick", nowMs: t }));
  }
  assert.equal(sends(effects, "pre_vote_request").length, 0);
  assert.equal(node.status(5 * E).eligible, false);
  const gossip = sends(effects, "state").at(-1);
  assert.ok(gossip?.type === "state" && gossip.eligible === false);
  effects = node.step({ kind: "start_demote_done", nowMs: 5 * E + 1 });
  assert.ok(
    ofKind(effects, "log").some((l) => l.event === "start_demote_done"),
  );
  assert.ok(
    sends(effects, "state").some((m) => m.type === "state" && m.eligible),
  );
  for (let t = 5 * E + 10; t <= 7 * E; t += 10) {
    effects.push(...node.step({ kind: "tick", nowMs: t }));
  }
  assert.ok(sends(effects, "pre_vote_request").length > 0, "campaigns after");
});

Deno.test("stepDownMarginMs() is h/2, shrunk so one lost renewal round never costs the role", () => {
  assert.equal(stepDownMarginMs(100, 180), 50); // h 100, E 200
  assert.equal(stepDownMarginMs(1500, 2700), 750); // the defaults
  assert.equal(stepDownMarginMs(100, 150), 25); // L − 1.25h
  assert.equal(stepDownMarginMs(100, 100), 0); // L = h: no margin left
  for (const [h, lease] of [[100, 180], [1500, 2700], [100, 360]]) {
    const margin = stepDownMarginMs(h!, lease!);
    // A lost round: the next ack arrives h after the last one; by then the
    // lease has L − h left, which must stay above the margin.
    assert.ok(lease! - h! - margin >= h! / 4, `h ${h} L ${lease}`);
  }
});

Deno.test("step() steps down with reason quorum_lost when the lease has less than the margin left", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const from = net.log.length;
  const cutAt = net.nowMs;
  net.isolate(master);
  net.runUntil(cutAt + E, 1);
  const demote = net.log.slice(from).find((r) =>
    r.node === master && r.effect.kind === "demote"
  );
  assert.ok(demote?.effect.kind === "demote");
  assert.equal(demote.effect.reason, "quorum_lost");
  // The last acked round was sent at most h/2 before the cut: it stepped
  // down L − M after that round, leaving M of the lease to its drivers.
  const margin = stepDownMarginMs(H, L);
  const afterCutMs = demote.atMs - cutAt;
  assert.ok(afterCutMs <= L - margin + 1, `after ${afterCutMs} ms`);
  assert.ok(afterCutMs >= L - margin - H / 2 - 1, `after ${afterCutMs} ms`);
  // The new master promotes no earlier than E − (L − M) after the step-down.
  const promote = net.log.slice(from).find((r) =>
    r.node !== master && r.effect.kind === "promote"
  );
  assert.ok(promote !== undefined, "a new master");
  assert.ok(
    promote.atMs - demote.atMs >= E - (L - margin) - 1,
    `demote budget ${promote.atMs - demote.atMs} ms`,
  );
});

Deno.test("a master found past its lease (paused) demotes with reason lease_expired", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const effects = net.node(master).step({
    kind: "tick",
    nowMs: net.nowMs + 3 * E,
  });
  const demote = ofKind(effects, "demote")[0];
  assert.equal(demote?.reason, "lease_expired");
});

Deno.test("promote says elected after an election and handover after a TimeoutNow", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  const first = net.log.find((r) => r.effect.kind === "promote")?.effect;
  assert.ok(first?.kind === "promote" && first.reason === "elected");
  const from = net.log.length;
  net.step(master, {
    kind: "command",
    nowMs: net.nowMs,
    requestId: "r1",
    command: { type: "switchover" },
  });
  net.runUntil(net.nowMs + E);
  const effects = net.log.slice(from).map((r) => r.effect);
  assert.deepEqual(
    ofKind(effects, "demote").map((d) => d.reason),
    ["switchover"],
  );
  assert.deepEqual(
    ofKind(effects, "promote").map((p) => p.reason),
    ["handover"],
  );
});

Deno.test("every demote names a documented reason: drain, check_failed, preempted, shutdown", () => {
  const cases = [
    {
      reason: "drain",
      act: (net: Net, id: string) =>
        net.step(id, {
          kind: "command",
          nowMs: net.nowMs,
          requestId: "d",
          command: { type: "drain" },
        }),
    },
    {
      reason: "shutdown",
      act: (net: Net, id: string) =>
        net.step(id, {
          kind: "command",
          nowMs: net.nowMs,
          requestId: "s",
          command: { type: "shutdown" },
        }),
    },
    {
      reason: "check_failed",
      act: (net: Net, id: string) =>
        net.step(id, { kind: "check", nowMs: net.nowMs, healthy: false }),
    },
  ];
  for (const c of cases) {
    const net = new Net(voters(100, 90, 80));
    const master = elect(net);
    const from = net.log.length;
    c.act(net, master);
    net.runUntil(net.nowMs + E);
    const demotes = ofKind(net.effects(master, from), "demote");
    assert.deepEqual(demotes.map((d) => d.reason), [c.reason], c.reason);
  }
  // Preemption: b leads, a (higher priority) returns; b hands over.
  const net = new Net(voters(100, 90, 80), () => ({
    preempt: true,
    preemptDelayMs: 50,
  }));
  net.isolate("a");
  const master = elect(net);
  assert.equal(master, "b");
  const from = net.log.length;
  net.heal();
  net.runUntil(net.nowMs + 4 * E);
  const reasons = ofKind(net.effects("b", from), "demote").map((d) => d.reason);
  assert.deepEqual(reasons, ["preempted"]);
  for (const record of net.log) {
    if (record.effect.kind !== "demote") continue;
    assert.ok(
      (DEMOTE_REASONS as readonly string[]).includes(record.effect.reason),
    );
  }
});

Deno.test("step() ranks peers by the priority they advertise, unheard peers not at all", () => {
  // b's own priority is 100. The rank (and so the campaign delay) follows
  // what c says about itself; a (never heard) is not ranked.
  for (const [cPriority, rank] of [[200, 1], [50, 0], [100, 0]] as const) {
    const t0 = 1000;
    const node = new Election(
      options("b", voters(150, 100, 0), { startMs: t0, seed: 4 }),
    );
    node.step({ kind: "peer_up", nowMs: t0, peer: "c" });
    node.step({
      kind: "message",
      nowMs: t0,
      from: "c",
      message: state(cPriority),
    });
    let campaignedAt: number | null = null;
    for (let t = t0; t <= t0 + 3 * E && campaignedAt === null; t += 0.5) {
      if (t % 50 === 0) {
        node.step({
          kind: "message",
          nowMs: t,
          from: "c",
          message: state(cPriority),
        });
      }
      const effects = node.step({ kind: "tick", nowMs: t });
      if (sends(effects, "pre_vote_request").length > 0) campaignedAt = t;
    }
    assert.ok(campaignedAt !== null);
    const waited = campaignedAt - t0;
    const base = E + rank * 10;
    assert.ok(
      waited >= base - 0.5 && waited < base + 5.5,
      `c advertises ${cPriority}: waited ${waited}, rank ${rank}`,
    );
    const members = node.status(campaignedAt).members;
    assert.deepEqual(
      members.map((m) => [m.id, m.priority]),
      [["b", 100], ["a", null], ["c", cPriority]],
    );
  }
});

Deno.test("a node about to campaign holds a lower-ranked node's pre-vote until its own campaign", () => {
  // b (100) and c (50) both followed a; c asks first (it missed the last
  // heartbeat). b's refusal ends at t0 + E, when its own timer fires too:
  // it campaigns first, then answers c as a campaigning better node.
  const t0 = 1000;
  const node = new Election(
    options("b", voters(200, 100, 50), { startMs: 0, seed: 5 }),
  );
  for (const peer of ["a", "c"]) {
    node.step({ kind: "peer_up", nowMs: t0, peer });
  }
  node.step({
    kind: "message",
    nowMs: t0,
    from: "c",
    message: state(50),
  });
  node.step({
    kind: "message",
    nowMs: t0,
    from: "a",
    message: {
      type: "heartbeat",
      term: 1,
      round: 1,
      master: true,
      eligible: true,
      priority: 200,
    },
  });
  const asked = node.step({
    kind: "message",
    nowMs: t0 + E - 20,
    from: "c",
    message: { type: "pre_vote_request", term: 1, proposedTerm: 2 },
  });
  const refusal = sends(asked, "pre_vote_response")[0];
  assert.ok(refusal?.type === "pre_vote_response" && !refusal.granted);
  const out: Effect[] = [];
  for (let t = t0 + E - 19; t <= t0 + E + 20; t += 1) {
    if (t % 20 === 0) {
      node.step({ kind: "message", nowMs: t, from: "c", message: state(50) });
    }
    out.push(...node.step({ kind: "tick", nowMs: t }));
  }
  const order = ofKind(out, "send").map((e) => e.message).filter((m) =>
    m.type === "pre_vote_request" || m.type === "pre_vote_response"
  );
  assert.equal(order[0]?.type, "pre_vote_request", JSON.stringify(order));
  const answer = order.find((m) => m.type === "pre_vote_response");
  assert.ok(answer?.type === "pre_vote_response");
  assert.equal(answer.campaigning, true, "c learns that b campaigns");
});

Deno.test("a master whose own loop stalled renews before it applies the step-down margin", () => {
  // E 400, L 360, M 50: a stall over 2h can end inside the margin with the
  // lease still valid. The silence was ours: renew, do not step down.
  const net = new Net(voters(100, 90, 80), () => ({
    electionTimeoutMs: 400,
    leaseMs: 360,
  }));
  const master = elect(net);
  const remaining = net.node(master).status(net.nowMs).leaseRemainingMs;
  net.paused.add(master);
  net.runUntil(net.nowMs + remaining - 20, 5);
  net.paused.delete(master);
  const resumed = net.step(master, { kind: "tick", nowMs: net.nowMs });
  assert.ok(ofKind(resumed, "log").some((l) => l.event === "stall"));
  assert.deepEqual(ofKind(resumed, "demote"), []);
  assert.ok(sends(resumed, "heartbeat").length > 0, "renews at once");
  net.deliver();
  net.runUntil(net.nowMs + 400);
  assert.deepEqual(net.masters(), [master]);
  assert.deepEqual(ofKind(net.effects(master), "demote"), []);
});

Deno.test("a master told of a newer term by any message demotes with reason higher_term", () => {
  const late: Message[] = [
    {
      type: "pre_vote_response",
      term: 9,
      proposedTerm: 1,
      granted: false,
      reason: "stale_term",
      campaigning: true,
    },
    { type: "vote_response", term: 9, granted: false, reason: "stale_term" },
    {
      type: "heartbeat_ack",
      term: 9,
      round: 1,
      ok: false,
      eligible: true,
      priority: 90,
    },
    {
      type: "heartbeat",
      term: 9,
      round: 1,
      master: true,
      eligible: true,
      priority: 90,
    },
  ];
  for (const message of late) {
    const net = new Net(voters(100, 90, 80));
    const master = elect(net);
    const from = master === "a" ? "b" : "a";
    const effects = net.node(master).step({
      kind: "message",
      nowMs: net.nowMs,
      from,
      message,
    });
    assert.deepEqual(
      ofKind(effects, "demote").map((d) => d.reason),
      ["higher_term"],
      message.type,
    );
  }
});
