import assert from "node:assert/strict";
import { E, H, L, Net, ofKind, voters } from "./_net.ts";

function elect(net: Net, untilMs = 1000): string {
  net.runUntil(untilMs);
  const masters = net.masters();
  assert.equal(masters.length, 1, `masters: ${masters.join(",")}`);
  return masters[0] ?? "";
}

function pauseAll(net: Net, paused: boolean): void {
  for (const id of net.nodes.keys()) {
    net.step(id, { kind: "pause", nowMs: net.nowMs, paused });
  }
  net.deliver();
}

function command(net: Net, id: string, type: "switchover" | "drain") {
  return ofKind(
    net.step(id, {
      kind: "command",
      nowMs: net.nowMs,
      requestId: "r",
      command: { type },
    }),
    "reply",
  );
}

Deno.test("pause: nobody campaigns after the master dies, and resume elects one in rank order", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  pauseAll(net, true);
  net.paused.add(master);
  const diedMs = net.nowMs;
  const from = net.log.length;
  net.runUntil(diedMs + 5 * E);
  const events = net.log.slice(from).filter((r) => r.effect.kind === "log")
    .map((r) => r.effect.kind === "log" ? r.effect.event : "");
  assert.ok(!events.includes("campaign"), events.join(","));
  assert.equal(
    net.log.slice(from).filter((r) => r.effect.kind === "promote").length,
    0,
  );
  pauseAll(net, false);
  const resumedMs = net.nowMs;
  net.runUntil(resumedMs + E);
  const others = net.masters().filter((id) => id !== master);
  assert.equal(others.length, 1, `masters: ${net.masters().join(",")}`);
  // The best-ranked survivor wins (b has priority 90 when a was master).
  if (master === "a") assert.equal(others[0], "b");
});

Deno.test("pause: a master with failing checks keeps its role; resume hands over", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  pauseAll(net, true);
  net.step(master, { kind: "check", nowMs: net.nowMs, healthy: false });
  net.runUntil(net.nowMs + 5 * E);
  assert.deepEqual(net.masters(), [master]);
  pauseAll(net, false);
  net.runUntil(net.nowMs + 3 * E);
  assert.equal(net.masters().length, 1);
  assert.notEqual(net.masters()[0], master);
});

Deno.test("pause: a paused voter refuses pre-votes no handover claims", () => {
  const net = new Net(voters(100, 90, 80));
  elect(net);
  pauseAll(net, true);
  const effects = net.step("c", {
    kind: "message",
    nowMs: net.nowMs + 3 * E,
    from: "b",
    message: { type: "pre_vote_request", term: 50, proposedTerm: 51 },
  });
  const answer = ofKind(effects, "send")[0]?.message;
  assert.ok(answer?.type === "pre_vote_response" && !answer.granted);
  assert.equal(answer.reason, "paused");
});

Deno.test("pause: switchover still works and a master keeps renewing its lease", () => {
  const net = new Net(voters(100, 90, 80));
  const master = elect(net);
  pauseAll(net, true);
  net.runUntil(net.nowMs + 10 * L);
  assert.deepEqual(net.masters(), [master]);
  assert.equal(command(net, master, "switchover").length, 0);
  net.runUntil(net.nowMs + 2 * E);
  assert.equal(net.masters().length, 1);
  assert.notEqual(net.masters()[0], master);
});

Deno.test("handover wait: the master stops reporting master, keeps its lease, then demotes", () => {
  const drainMs = 3 * H;
  const net = new Net(
    voters(100, 90, 80),
    () => ({ handoverDrainMs: drainMs }),
  );
  const master = elect(net);
  const from = net.log.length;
  const startMs = net.nowMs;
  command(net, master, "switchover");
  assert.deepEqual(net.masters(), []);
  const status = net.node(master).status(net.nowMs);
  assert.equal(status.role, "candidate");
  net.runUntil(startMs + drainMs - 5);
  // Still no demote and a valid lease (it kept renewing through the wait).
  assert.equal(ofKind(net.effects(master, from), "demote").length, 0);
  assert.ok(net.node(master).status(net.nowMs).leaseRemainingMs > 0);
  assert.deepEqual(net.masters(), []);
  net.runUntil(startMs + drainMs + 2 * E);
  const demote = net.log.slice(from).find((r) =>
    r.node === master && r.effect.kind === "demote"
  );
  assert.ok(demote !== undefined && demote.atMs >= startMs + drainMs);
  const promote = net.log.slice(from).find((r) => r.effect.kind === "promote");
  assert.ok(promote !== undefined && promote.atMs >= demote.atMs);
  assert.equal(net.masters().length, 1);
  assert.notEqual(net.masters()[0], master);
});
