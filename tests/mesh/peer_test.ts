/** Tie-break and backoff rules of one peer link (DESIGN §2: one connection per pair). */

import assert from "node:assert/strict";
import { PeerLink, preferFresh } from "../../src/mesh/_peer.ts";
import { describeDifference } from "../../src/mesh/fingerprint.ts";

const young = { existingAgeMs: 10, staleAfterMs: 1000 };
const old = { existingAgeMs: 5000, staleAfterMs: 1000 };

Deno.test("preferFresh() keeps the connection dialed by the smaller id", () => {
  const cases: [
    string,
    string,
    "outbound" | "inbound",
    "outbound" | "inbound",
    boolean,
  ][] = [
    // self, peer, fresh, existing, replace?
    ["n1", "n2", "outbound", "inbound", true],
    ["n1", "n2", "inbound", "outbound", false],
    ["n2", "n1", "inbound", "outbound", true],
    ["n2", "n1", "outbound", "inbound", false],
  ];
  for (const [selfId, peerId, fresh, existing, expected] of cases) {
    assert.equal(
      preferFresh({ selfId, peerId, fresh, existing, ...young }),
      expected,
      `${selfId}/${peerId} fresh ${fresh} existing ${existing}`,
    );
  }
});

Deno.test("preferFresh() makes both ends of a simultaneous dial keep the same connection", () => {
  // X is dialed by a, Y by b; each end sees them in either order.
  for (
    const [a, b] of [["n1", "n2"], ["n2", "n1"], ["web-1", "arbiter"]] as const
  ) {
    const keptAt = (
      self: string,
      peer: string,
      firstDialer: string,
    ): string => {
      const direction = (dialer: string) =>
        dialer === self ? "outbound" : "inbound";
      const secondDialer = firstDialer === a ? b : a;
      const replace = preferFresh({
        selfId: self,
        peerId: peer,
        fresh: direction(secondDialer),
        existing: direction(firstDialer),
        ...young,
      });
      return replace ? secondDialer : firstDialer;
    };
    const kept = new Set([
      keptAt(a, b, a),
      keptAt(a, b, b),
      keptAt(b, a, a),
      keptAt(b, a, b),
    ]);
    assert.deepEqual([...kept], [a < b ? a : b]);
  }
});

Deno.test("preferFresh() replaces a stale connection and the older of two from one dialer", () => {
  assert.equal(
    preferFresh({
      selfId: "n1",
      peerId: "n2",
      fresh: "inbound",
      existing: "outbound",
      ...old,
    }),
    true,
  );
  assert.equal(
    preferFresh({
      selfId: "n1",
      peerId: "n2",
      fresh: "inbound",
      existing: "inbound",
      ...young,
    }),
    true,
  );
  assert.equal(
    preferFresh({
      selfId: "n1",
      peerId: "n2",
      fresh: "outbound",
      existing: "outbound",
      ...young,
    }),
    true,
  );
});

Deno.test("reconnect delays grow exponentially with jitter and never exceed the cap", async () => {
  const link = new PeerLink("n2", "ws://127.0.0.1:9");
  const delays: number[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    const start = performance.now();
    await new Promise<void>((resolve) => link.scheduleRetry(4, 40, resolve));
    delays.push(performance.now() - start);
  }
  // Ceilings 4, 8, 16, 32, 40, 40...; each delay is in [ceiling/2, ceiling] plus timer slack.
  assert.ok(delays.every((ms) => ms < 40 + 25), delays.join());
  assert.ok(delays.slice(4).every((ms) => ms >= 20 - 1), delays.join());
});

Deno.test("describeDifference() names members, roles and timing, bounded", () => {
  const here = {
    members: [{ id: "a", role: "voter" }, { id: "b", role: "voter" }],
    heartbeatMs: 1500,
  };
  const there = {
    members: [{ id: "a", role: "witness" }, { id: "c", role: "voter" }],
    heartbeatMs: 1000,
  };
  assert.equal(
    describeDifference(here, there),
    'heartbeatMs: here 1500, peer 1000; members ids differ (only here: b; only on peer: c); members[a].role: here "voter", peer "witness"',
  );
  const many = (n: number) =>
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, n]));
  assert.match(describeDifference(many(1), many(2)), /; and 12 more$/);
  assert.equal(
    describeDifference({ x: [1, 2] }, { x: [1, 2] }),
    "descriptions are equal",
  );
});

Deno.test("stamp() carries one ping at a time and the owed pong with its hold time", () => {
  const a = new PeerLink("b", "ws://b");
  const b = new PeerLink("a", "ws://a");
  const h = 100;
  const first = a.stamp({ t: "msg", m: 1 }, 0, h);
  assert.equal(first.n, 1);
  // Outstanding: the next message carries no new ping.
  assert.equal(a.stamp({ t: "msg", m: 2 }, 10, h).n, undefined);
  b.onEnvelope(first, 1);
  // b answers 30 ms later on a frame it sends anyway; a subtracts the hold.
  const answer = b.stamp({ t: "msg", m: 3 }, 31, h);
  assert.equal(answer.p, 1);
  assert.equal(answer.w, 30);
  a.onEnvelope(answer, 32);
  assert.equal(a.status(32).rttMs, 2);
  // The pong was owed once only; the next ping may go now.
  assert.equal(b.stamp({ t: "msg", m: 4 }, 40, h).p, undefined);
  assert.equal(a.stamp({ t: "msg", m: 5 }, 40, h).n, 2);
});

Deno.test("keepalive() sends only after 0.7 h without any frame to the peer", () => {
  const link = new PeerLink("b", "ws://b");
  const h = 100;
  assert.ok(link.keepalive(0, h) !== undefined);
  assert.equal(link.keepalive(69, h), undefined);
  link.stamp({ t: "msg", m: 1 }, 60, h);
  assert.equal(link.keepalive(129, h), undefined);
  assert.equal(link.keepalive(130, h)?.t, "ping");
});
