import assert from "node:assert/strict";
import { parseMessage } from "../../src/election/types.ts";

Deno.test("parseMessage() accepts every well-formed message type", () => {
  const good = [
    {
      type: "heartbeat",
      term: 3,
      round: 9,
      master: true,
      eligible: false,
      priority: 100,
    },
    {
      type: "heartbeat_ack",
      term: 3,
      round: 9,
      ok: true,
      eligible: true,
      priority: 0,
    },
    { type: "state", term: 0, eligible: true, priority: 255, leaderId: null },
    {
      type: "state",
      term: 0,
      eligible: true,
      priority: 90,
      leaderId: "web-1",
    },
    { type: "pre_vote_request", term: 1, proposedTerm: 2 },
    {
      type: "pre_vote_response",
      term: 1,
      proposedTerm: 2,
      granted: false,
      reason: "leader_alive",
      campaigning: false,
    },
    { type: "vote_request", term: 2, handover: null },
    { type: "vote_request", term: 2, handover: { leaderId: "a", term: 1 } },
    { type: "vote_response", term: 2, granted: true, reason: "ok" },
    { type: "timeout_now", term: 4 },
  ];
  for (const value of good) {
    const parsed = parseMessage(JSON.parse(JSON.stringify(value)));
    assert.equal(typeof parsed, "object", JSON.stringify(value));
    assert.deepEqual(parsed, value);
  }
});

Deno.test("parseMessage() names what is wrong and never throws", () => {
  const bad: [unknown, RegExp][] = [
    [null, /must be a JSON object/],
    [[1], /must be a JSON object/],
    ["heartbeat", /must be a JSON object/],
    [{ type: "nope" }, /unknown election message type "nope"/],
    [{ term: 1 }, /unknown election message type undefined/],
    [{ type: "__proto__" }, /unknown election message type/],
    [
      { type: "timeout_now", term: -1 },
      /timeout_now: field "term" must be a non-negative integer/,
    ],
    [{ type: "timeout_now", term: 1.5 }, /non-negative integer/],
    [{ type: "timeout_now", term: "1" }, /non-negative integer/],
    [
      {
        type: "heartbeat",
        term: 1,
        round: 1,
        master: "yes",
        eligible: true,
        priority: 1,
      },
      /field "master" must be a boolean/,
    ],
    [
      { type: "state", term: 1, eligible: true, priority: 1, leaderId: "" },
      /field "leaderId" must be a string/,
    ],
    [
      {
        type: "state",
        term: 1,
        eligible: true,
        priority: 1,
        leaderId: "x".repeat(201),
      },
      /field "leaderId"/,
    ],
    [
      { type: "state", term: 1, eligible: true, leaderId: null },
      /state: field "priority" must be an integer from 0 to 255/,
    ],
    [
      { type: "state", term: 1, eligible: true, priority: 256, leaderId: null },
      /field "priority"/,
    ],
    [
      {
        type: "heartbeat_ack",
        term: 1,
        round: 1,
        ok: true,
        eligible: true,
        priority: 1.5,
      },
      /heartbeat_ack: field "priority"/,
    ],
    [
      { type: "vote_request", term: 1, handover: [] },
      /field "handover" must be an object or null/,
    ],
    [
      { type: "vote_request", term: 1, handover: { leaderId: "a" } },
      /field "term"/,
    ],
    [{ type: "vote_request", term: 1 }, /field "handover"/],
  ];
  for (const [value, pattern] of bad) {
    const parsed = parseMessage(value);
    assert.equal(typeof parsed, "string", JSON.stringify(value));
    assert.match(parsed as string, pattern);
  }
});
