/**
 * The term gate (DESIGN §1, issue 11): a message whose term is above
 * TERM_MAX, or jumps more than TERM_JUMP_MAX above both our term and the
 * term two peers vouch for, is refused before it changes anything.
 */

import assert from "node:assert/strict";
import { Election } from "../../src/election/election.ts";
import {
  type Effect,
  type Message,
  TERM_JUMP_MAX,
  TERM_MAX,
} from "../../src/election/types.ts";
import { E, Net, ofKind, options, voters } from "./_net.ts";

function deliver(
  node: Election,
  nowMs: number,
  from: string,
  message: Message,
): Effect[] {
  return node.step({ kind: "message", nowMs, from, message });
}

function refusals(effects: Effect[], level = "warn") {
  return ofKind(effects, "log").filter((e) =>
    e.event === "term_refused" && e.level === level
  );
}

const state = (term: number): Message => ({
  type: "state",
  term,
  eligible: true,
  priority: 100,
  leaderId: null,
});

Deno.test("TERM_MAX and TERM_JUMP_MAX leave term + 1 exact, far below 2^53", () => {
  assert.ok(Number.isSafeInteger(TERM_MAX + TERM_JUMP_MAX + 1));
  assert.ok(TERM_MAX * 1024 <= Number.MAX_SAFE_INTEGER);
  assert.ok(TERM_JUMP_MAX < TERM_MAX);
});

Deno.test("step() refuses a message whose term is above TERM_MAX or jumps too far", () => {
  const base = 50;
  const cases: { name: string; message: Message; refused: string | null }[] = [
    {
      name: "heartbeat at 2^53−1",
      message: {
        type: "heartbeat",
        term: Number.MAX_SAFE_INTEGER,
        round: 1,
        master: true,
        eligible: true,
        priority: 100,
      },
      refused: "term_above_max",
    },
    {
      name: "vote request just past the jump bound",
      message: {
        type: "vote_request",
        term: base + TERM_JUMP_MAX + 1,
        handover: null,
      },
      refused: "term_jump",
    },
    {
      name: "vote request at the jump bound",
      message: {
        type: "vote_request",
        term: base + TERM_JUMP_MAX,
        handover: null,
      },
      refused: null,
    },
    {
      name: "pre-vote proposing a huge term",
      message: { type: "pre_vote_request", term: base, proposedTerm: 2 ** 52 },
      refused: "term_above_max",
    },
    {
      name: "handover claim with a huge term",
      message: {
        type: "vote_request",
        term: base + 1,
        handover: { leaderId: "a", term: base + 2 * TERM_JUMP_MAX },
      },
      refused: "term_jump",
    },
    {
      name: "ack naming a jump",
      message: {
        type: "heartbeat_ack",
        term: base + TERM_JUMP_MAX + 5,
        round: 1,
        ok: false,
        eligible: true,
        priority: 100,
      },
      refused: "term_jump",
    },
    {
      name: "gossip naming a term above the ceiling",
      message: state(TERM_MAX + 1),
      refused: "term_above_max",
    },
  ];
  for (const c of cases) {
    const node = new Election(
      options("b", voters(100, 100, 100), {
        persisted: { term: base, votedFor: null },
      }),
    );
    const nowMs = 2 * E; // after the restart embargo
    node.step({ kind: "tick", nowMs });
    const effects = deliver(node, nowMs, "c", c.message);
    const logged = refusals(effects);
    if (c.refused === null) {
      assert.equal(logged.length, 0, c.name);
      continue;
    }
    assert.equal(logged.length, 1, c.name);
    assert.equal(logged[0]?.fields["reason"], c.refused, c.name);
    assert.equal(logged[0]?.fields["from"], "c", c.name);
    assert.equal(node.status(nowMs).term, base, c.name);
    assert.deepEqual(ofKind(effects, "persist"), [], c.name);
    assert.deepEqual(ofKind(effects, "send"), [], c.name);
  }
});

Deno.test("step() lets a rebuilt node catch up to a term two peers vouch for", () => {
  const clusterTerm = 3 * TERM_JUMP_MAX;
  const node = new Election(options("b", voters(100, 100, 100)));
  const nowMs = 2 * E;
  const hb: Message = {
    type: "heartbeat",
    term: clusterTerm,
    round: 9,
    master: true,
    eligible: true,
    priority: 100,
  };
  // One peer alone cannot vouch for its own jump.
  assert.equal(refusals(deliver(node, nowMs, "a", hb)).length, 1);
  assert.equal(node.status(nowMs).term, 0);
  // The second peer's gossip agrees: the term is now vouched for.
  assert.equal(
    refusals(deliver(node, nowMs, "c", state(clusterTerm))).length,
    0,
  );
  deliver(node, nowMs + 1, "a", hb);
  assert.equal(node.status(nowMs + 1).term, clusterTerm);
  assert.equal(node.status(nowMs + 1).masterId, "a");
});

Deno.test("step() warns of term refusals at most once per peer per E, counting the rest", () => {
  const node = new Election(options("b", voters(100, 100, 100)));
  const huge = state(Number.MAX_SAFE_INTEGER);
  let warned = 0;
  let debug = 0;
  for (let i = 0; i < 100; i++) {
    const effects = deliver(node, E + i, "a", huge);
    warned += refusals(effects).length;
    debug += refusals(effects, "debug").length;
  }
  // Every refusal is an event (the daemon counts them); one is a warning.
  assert.equal(warned, 1);
  assert.equal(debug, 99);
  const later = refusals(deliver(node, 2 * E + 99, "a", huge));
  assert.equal(later.length, 1);
  assert.equal(later[0]?.fields["notWarned"], 99);
});

Deno.test("a node at TERM_MAX stops campaigning instead of proposing a term above it", () => {
  const node = new Election(
    options("b", voters(100, 100, 100), {
      persisted: { term: TERM_MAX, votedFor: null },
    }),
  );
  const effects: Effect[] = [];
  for (let t = 0; t <= 10 * E; t += 10) {
    effects.push(...node.step({ kind: "tick", nowMs: t }));
  }
  assert.equal(node.status(10 * E).eligible, false);
  const requests = ofKind(effects, "send").filter((e) =>
    e.message.type === "pre_vote_request" || e.message.type === "vote_request"
  );
  assert.deepEqual(requests, []);
});

Deno.test("a cluster hit by a term-2^53−1 message keeps exactly one master", () => {
  const net = new Net(voters(100, 90, 80));
  net.runUntil(10 * E);
  assert.deepEqual(net.masters(), ["a"]);
  const term = net.node("a").status(net.nowMs).term;
  // An insider holding the secret sends every node a heartbeat at 2^53−1.
  for (const to of ["a", "b", "c"]) {
    const from = to === "a" ? "b" : "a";
    net.step(to, {
      kind: "message",
      nowMs: net.nowMs,
      from,
      message: {
        type: "heartbeat",
        term: Number.MAX_SAFE_INTEGER,
        round: 1,
        master: true,
        eligible: true,
        priority: 100,
      },
    });
  }
  net.deliver();
  const endMs = net.nowMs + 20 * E;
  for (let t = net.nowMs + 10; t <= endMs; t += 10) {
    net.runUntil(t);
    assert.equal(net.masters().length, 1, `one master at ${t} ms`);
  }
  assert.deepEqual(net.masters(), ["a"]);
  for (const id of ["a", "b", "c"]) {
    assert.equal(net.node(id).status(net.nowMs).term, term, id);
  }
});
