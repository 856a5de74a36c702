import assert from "node:assert/strict";
import { Election } from "../../src/election/election.ts";
import type { Effect, Message } from "../../src/election/types.ts";
import { DELTA, E, Net, ofKind, options, priorityOf, voters } from "./_net.ts";

function message(
  node: Election,
  nowMs: number,
  from: string,
  msg: Message,
): Effect[] {
  return node.step({ kind: "message", nowMs, from, message: msg });
}

function sentTo(effects: Effect[], to: string): Message[] {
  return ofKind(effects, "send").filter((e) => e.to === to).map((e) =>
    e.message
  );
}

const heartbeat = (term: number): Message => ({
  type: "heartbeat",
  term,
  round: 1,
  master: true,
  eligible: true,
  priority: 100,
});

Deno.test("step() refuses a vote inside the lease", () => {
  const cases: {
    name: string;
    request: Message;
    heardAgoMs: number;
    granted: boolean;
  }[] = [
    {
      name: "pre-vote inside E",
      request: { type: "pre_vote_request", term: 1, proposedTerm: 2 },
      heardAgoMs: E - 1,
      granted: false,
    },
    {
      name: "vote inside E",
      request: { type: "vote_request", term: 2, handover: null },
      heardAgoMs: E - 1,
      granted: false,
    },
    {
      name: "pre-vote after E",
      request: { type: "pre_vote_request", term: 1, proposedTerm: 2 },
      heardAgoMs: E,
      granted: true,
    },
    {
      name: "vote after E",
      request: { type: "vote_request", term: 2, handover: null },
      heardAgoMs: E,
      granted: true,
    },
  ];
  for (const c of cases) {
    const node = new Election(options("b", voters(100, 100, 100)));
    const heardMs = 1000;
    message(node, heardMs, "a", heartbeat(1));
    const effects = message(node, heardMs + c.heardAgoMs, "c", c.request);
    const answer = sentTo(effects, "c")[0];
    assert.ok(answer !== undefined && "granted" in answer, c.name);
    assert.equal(answer.granted, c.granted, c.name);
    if (!c.granted) {
      assert.equal(answer.reason, "leader_alive", c.name);
      // A refused request must not bump our term (it would unseat the leader).
      assert.equal(node.status(heardMs + c.heardAgoMs).term, 1, c.name);
    }
  }
});

Deno.test("step() refuses votes during the restart embargo", () => {
  const cases = [
    { name: "empty state_dir", persisted: null, term: 1 },
    {
      name: "persisted term 5",
      persisted: { term: 5, votedFor: null },
      term: 6,
    },
  ];
  for (const c of cases) {
    const start = 5000;
    const node = new Election(
      options("b", voters(100, 100, 100), {
        persisted: c.persisted,
        startMs: start,
      }),
    );
    const request: Message = {
      type: "vote_request",
      term: c.term,
      handover: null,
    };
    const early = sentTo(message(node, start + E - 1, "c", request), "c")[0];
    assert.ok(early?.type === "vote_response");
    assert.equal(early.granted, false, c.name);
    assert.equal(early.reason, "restart_embargo", c.name);
    const late = sentTo(message(node, start + E, "c", request), "c")[0];
    assert.ok(late?.type === "vote_response");
    assert.equal(late.granted, true, c.name);
  }
});

Deno.test("step() starts from term 0 with an empty state_dir and learns the term from peers", () => {
  const node = new Election(options("b", voters(100, 100, 100)));
  assert.equal(node.status(0).term, 0);
  message(node, 10, "a", heartbeat(42));
  assert.equal(node.status(10).term, 42);
});

Deno.test("step() persists before it sends the vote", () => {
  const node = new Election(options("b", voters(100, 100, 100)));
  const effects = message(node, E + 1, "c", {
    type: "vote_request",
    term: 3,
    handover: null,
  });
  const persist = effects.findIndex((e) => e.kind === "persist");
  const send = effects.findIndex((e) => e.kind === "send");
  assert.ok(persist >= 0 && send > persist, JSON.stringify(effects));
  assert.deepEqual(effects[persist], {
    kind: "persist",
    term: 3,
    votedFor: "c",
  });
});

Deno.test("step() grants one vote per term", () => {
  const node = new Election(options("b", voters(100, 100, 100)));
  message(node, E + 1, "c", { type: "vote_request", term: 3, handover: null });
  const second = sentTo(
    message(node, E + 2, "a", {
      type: "vote_request",
      term: 3,
      handover: null,
    }),
    "a",
  )[0];
  assert.ok(second?.type === "vote_response");
  assert.equal(second.granted, false);
  assert.match(second.reason, /already_voted_for_c/);
});

Deno.test("pre-vote does not bump terms", () => {
  // c is cut off from the leader a, but b still hears a: c's pre-vote fails
  // and nobody's term moves, so c cannot disrupt a when it comes back.
  const net = new Net(voters(100, 90, 80));
  net.runUntil(1000);
  assert.deepEqual(net.masters(), ["a"]);
  const term = net.node("a").status(net.nowMs).term;
  net.cutLink("a", "c");
  net.runUntil(3000);
  for (const id of ["a", "b", "c"]) {
    assert.equal(net.node(id).status(net.nowMs).term, term, id);
  }
  assert.ok(
    net.log.some((r) =>
      r.node === "c" && r.effect.kind === "log" && r.effect.event === "campaign"
    ),
    "c campaigned (pre-vote)",
  );
  assert.deepEqual(net.masters(), ["a"]);
});

Deno.test("step() waits E + k·Δ by rank before campaigning", () => {
  // Everyone is heard alive at t=1000 (after the embargo); nobody leads.
  const members = voters(50, 100, 100, 0);
  const cases = [
    { id: "b", rank: 0 }, // priority 100, id b
    { id: "c", rank: 1 }, // priority 100, id c
    { id: "a", rank: 2 }, // priority 50
  ];
  for (const c of cases) {
    for (const seed of [1, 2, 3, 4, 5]) {
      const t0 = 1000;
      const node = new Election(options(c.id, members, { seed, startMs: t0 }));
      for (const peer of ["a", "b", "c", "d"]) {
        if (peer === c.id) continue;
        node.step({ kind: "peer_up", nowMs: t0, peer });
        message(node, t0, peer, {
          type: "state",
          term: 0,
          eligible: peer !== "d",
          priority: priorityOf(members, peer),
          leaderId: null,
        });
      }
      node.step({ kind: "tick", nowMs: t0 });
      // The timer started at the last reset; find when the pre-vote goes out.
      let campaignedAt: number | null = null;
      for (let t = t0; t <= t0 + 3 * E && campaignedAt === null; t += 0.5) {
        // Keep peers alive without being a leader.
        const effects = node.step({ kind: "tick", nowMs: t });
        if (
          effects.some((e) =>
            e.kind === "send" && e.message.type === "pre_vote_request"
          )
        ) {
          campaignedAt = t;
        }
        if (t % 50 === 0) {
          for (const peer of ["a", "b", "c"]) {
            if (peer !== c.id) {
              message(node, t, peer, {
                type: "state",
                term: 0,
                eligible: true,
                priority: priorityOf(members, peer),
                leaderId: null,
              });
            }
          }
        }
      }
      assert.ok(campaignedAt !== null, `${c.id} never campaigned`);
      const waited = campaignedAt - t0;
      const base = E + c.rank * DELTA;
      assert.ok(
        waited >= base - 0.5 && waited < base + DELTA / 2 + 0.5,
        `${c.id} seed ${seed}: waited ${waited}, expected [${base}, ${
          base + DELTA / 2
        })`,
      );
    }
  }
});

Deno.test("step() leaves the failed master out of the rank", () => {
  // b follows a (priority 200). When a goes silent b is rank 0, not rank 1.
  const members = voters(200, 100, 50);
  const node = new Election(options("b", members, { seed: 3 }));
  const t0 = 1000;
  for (const peer of ["a", "c"]) {
    node.step({ kind: "peer_up", nowMs: t0, peer });
  }
  message(node, t0, "c", {
    type: "state",
    term: 1,
    eligible: true,
    priority: 50,
    leaderId: "a",
  });
  message(node, t0, "a", heartbeat(1));
  let campaignedAt: number | null = null;
  for (let t = t0; t <= t0 + 2 * E && campaignedAt === null; t += 0.5) {
    if (t % 50 === 0) {
      message(node, t, "c", {
        type: "state",
        term: 1,
        eligible: true,
        priority: 50,
        leaderId: null,
      });
    }
    const effects = node.step({ kind: "tick", nowMs: t });
    if (
      effects.some((e) =>
        e.kind === "send" && e.message.type === "pre_vote_request"
      )
    ) {
      campaignedAt = t;
    }
  }
  assert.ok(campaignedAt !== null);
  assert.ok(
    campaignedAt - t0 < E + DELTA / 2 + 0.5,
    `waited ${campaignedAt - t0}`,
  );
});

Deno.test("step() never lets a witness or a priority-0 voter campaign or promote", () => {
  const cases = [
    {
      name: "witness",
      members: [
        { id: "a", role: "witness" as const, priority: 0 },
        ...voters(0, 100, 100).slice(1),
      ],
    },
    { name: "priority 0", members: voters(0, 100, 100) },
  ];
  for (const c of cases) {
    const net = new Net(c.members);
    net.isolate("b");
    net.isolate("c");
    net.runUntil(5 * E);
    const aEffects = net.effects("a");
    assert.ok(
      !aEffects.some((e) =>
        e.kind === "send" && e.message.type.endsWith("vote_request")
      ),
      c.name,
    );
    assert.ok(!aEffects.some((e) => e.kind === "promote"), c.name);
    // And voters refuse it even if it asked, once it said what it is.
    const b = net.node("b");
    message(b, net.nowMs, "a", {
      type: "state",
      term: 0,
      eligible: false,
      priority: 0,
      leaderId: null,
    });
    const answer = sentTo(
      message(b, net.nowMs + 1, "a", {
        type: "vote_request",
        term: 9,
        handover: null,
      }),
      "a",
    )[0];
    assert.ok(answer?.type === "vote_response");
    assert.equal(answer.reason, "candidate_never_master", c.name);
    // A witness still votes: with b and c healed, one of them becomes master.
    net.heal();
    net.runUntil(net.nowMs + 5 * E);
    assert.equal(net.masters().length, 1, c.name);
    assert.notEqual(net.masters()[0], "a", c.name);
  }
});

Deno.test("step() with two_node lets a lone node become master", () => {
  const cases = [
    { twoNode: true, expectMaster: true },
    { twoNode: false, expectMaster: false },
  ];
  for (const c of cases) {
    const net = new Net(voters(100, 100), () => ({ twoNode: c.twoNode }));
    net.isolate("a");
    net.runUntil(5 * E);
    assert.equal(
      net.node("b").status(net.nowMs).role === "master",
      c.expectMaster,
    );
    assert.equal(
      net.node("a").status(net.nowMs).role === "master",
      c.expectMaster,
    );
  }
});

Deno.test("step() elects the highest-priority node first and promotes with the term as fencing token", () => {
  const net = new Net(voters(10, 200, 100));
  net.runUntil(1000);
  assert.deepEqual(net.masters(), ["b"]);
  const promotes = ofKind(net.effects("b"), "promote");
  assert.equal(promotes.length, 1);
  assert.equal(promotes[0]?.term, net.node("b").status(net.nowMs).term);
  assert.ok((promotes[0]?.term ?? 0) >= 1);
});

Deno.test("step() grants a pre-vote it refused for a lease as soon as the lease window ends", () => {
  const node = new Election(options("b", voters(100, 100, 100)));
  message(node, 1000, "a", heartbeat(1));
  const refused = sentTo(
    message(node, 1100, "c", {
      type: "pre_vote_request",
      term: 1,
      proposedTerm: 2,
    }),
    "c",
  )[0];
  assert.ok(refused?.type === "pre_vote_response" && !refused.granted);
  assert.equal(node.nextWakeMs(), 1000 + E);
  const before = sentTo(node.step({ kind: "tick", nowMs: 1000 + E - 1 }), "c");
  assert.ok(!before.some((m) => m.type === "pre_vote_response"));
  const after = sentTo(node.step({ kind: "tick", nowMs: 1000 + E }), "c");
  const grant = after.find((m) => m.type === "pre_vote_response");
  assert.ok(
    grant?.type === "pre_vote_response" && grant.granted &&
      grant.proposedTerm === 2,
  );
});

Deno.test("step() holds its own campaign after granting a pre-vote to a better-ranked node", () => {
  // c (rank 1) would campaign at E + Δ; a pre-vote from b (rank 0) arrives
  // just before, so c waits E/4 instead of competing.
  const t0 = 1000;
  const node = new Election(
    options("c", voters(50, 100, 100), { startMs: t0, seed: 1 }),
  );
  for (const peer of ["a", "b"]) {
    node.step({ kind: "peer_up", nowMs: t0, peer });
    message(node, t0, peer, {
      type: "state",
      term: 0,
      eligible: true,
      priority: peer === "a" ? 50 : 100,
      leaderId: null,
    });
  }
  message(node, t0 + E, "b", {
    type: "pre_vote_request",
    term: 0,
    proposedTerm: 1,
  });
  for (let t = t0 + E; t < t0 + E + E / 4 - 1; t += 1) {
    if (t % 50 === 0) {
      message(node, t, "a", {
        type: "state",
        term: 0,
        eligible: true,
        priority: 50,
        leaderId: null,
      });
    }
    const effects = node.step({ kind: "tick", nowMs: t });
    assert.ok(
      !effects.some((e) => e.kind === "log" && e.event === "campaign"),
      `campaigned at ${t - t0}`,
    );
  }
  const later = node.step({ kind: "tick", nowMs: t0 + E + E / 4 + DELTA });
  assert.ok(later.some((e) => e.kind === "log" && e.event === "campaign"));
});

Deno.test("a candidate that sees a split vote gives up at once and retries in rank order", () => {
  const node = new Election(options("b", voters(100, 100, 100), { seed: 2 }));
  const t0 = E - 10;
  for (const peer of ["a", "c"]) {
    node.step({ kind: "peer_up", nowMs: t0, peer });
  }
  // b campaigns (pre-vote granted by a), then both peers refuse the real vote.
  const t1 = E + DELTA;
  node.step({ kind: "tick", nowMs: t1 });
  message(node, t1, "a", {
    type: "pre_vote_response",
    term: 0,
    proposedTerm: 1,
    granted: true,
    reason: "ok",
    campaigning: false,
  });
  assert.equal(node.status(t1).state, "candidate");
  for (const peer of ["a", "c"]) {
    message(node, t1 + 1, peer, {
      type: "vote_response",
      term: 1,
      granted: false,
      reason: "already_voted_for_x",
    });
  }
  assert.equal(node.status(t1 + 1).state, "follower");
  assert.ok(
    node.nextWakeMs() < t1 + 1 + 3 * DELTA,
    `${node.nextWakeMs()}`,
  );
});
