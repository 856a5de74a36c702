import assert from "node:assert/strict";
import { Lease } from "../../src/election/lease.ts";
import { Prng } from "../../src/election/prng.ts";
import { quorumSize } from "../../src/election/quorum.ts";
import { rankOf } from "../../src/election/rank.ts";

Deno.test("quorumSize() is a strict majority, and 1 for two_node with two members", () => {
  const cases: [number, boolean, number][] = [
    [1, false, 1],
    [2, false, 2],
    [2, true, 1],
    [3, false, 2],
    [3, true, 2],
    [4, false, 3],
    [5, false, 3],
    [7, false, 4],
  ];
  for (const [members, twoNode, expected] of cases) {
    assert.equal(
      quorumSize(members, twoNode),
      expected,
      `${members} ${twoNode}`,
    );
  }
});

Deno.test("quorumSize() majorities always intersect (exhaustive up to 9 members)", () => {
  for (let n = 1; n <= 9; n++) {
    const q = quorumSize(n, false);
    assert.ok(2 * q > n, `n=${n}`);
  }
});

Deno.test("rankOf() orders by priority desc, then id asc", () => {
  const entries = [
    { id: "c", priority: 100 },
    { id: "a", priority: 50 },
    { id: "b", priority: 100 },
    { id: "d", priority: 200 },
  ];
  assert.deepEqual(["d", "b", "c", "a"].map((id) => rankOf(id, entries)), [
    0,
    1,
    2,
    3,
  ]);
});

Deno.test("Lease holds from the send time of the first round a majority acked", () => {
  const lease = new Lease(2, 180);
  const r1 = lease.startRound(1000, "a");
  assert.equal(lease.acquired, false);
  assert.equal(lease.validAt(1000), false);
  const r2 = lease.startRound(1050, "a");
  assert.equal(lease.ack(r2, "b"), true);
  assert.equal(lease.untilMs, 1050 + 180);
  // A late ack of an older round cannot move the lease back or forward.
  assert.equal(lease.ack(r1, "b"), false);
  assert.equal(lease.untilMs, 1230);
  assert.equal(lease.validAt(1229.9), true);
  assert.equal(lease.validAt(1230), false);
});

Deno.test("Lease needs a majority including self and ignores duplicate acks", () => {
  const lease = new Lease(3, 100);
  const round = lease.startRound(0, "a");
  assert.equal(lease.ack(round, "b"), false);
  assert.equal(lease.ack(round, "b"), false);
  assert.equal(lease.acquired, false);
  assert.equal(lease.ack(round, "c"), true);
});

Deno.test("Lease keeps a bounded number of unacked rounds", () => {
  const lease = new Lease(2, 100);
  const first = lease.startRound(0, "a");
  for (let i = 1; i <= 100; i++) lease.startRound(i, "a");
  assert.equal(lease.ack(first, "b"), false);
});

Deno.test("Prng replays the same sequence from the same seed", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const seqA = Array.from({ length: 20 }, () => a.nextUint32());
  const seqB = Array.from({ length: 20 }, () => b.nextUint32());
  const seqC = Array.from({ length: 20 }, () => c.nextUint32());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
  const p = new Prng(1);
  for (let i = 0; i < 1000; i++) {
    const x = p.nextFloat();
    assert.ok(x >= 0 && x < 1);
    const k = p.intBelow(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
});
