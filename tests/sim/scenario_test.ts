/**
 * Scenario tests on the simulator, named by topology (tigerbeetle's
 * replica_test style): a hand-placed fault on a quiet 3-node cluster, with
 * the swarm's checkers running after every event.
 */
import assert from "node:assert/strict";
import { type SimMember, type SimTiming, World } from "./world.ts";

const TIMING: SimTiming = {
  heartbeatMs: 100,
  electionTimeoutMs: 200,
  leaseMs: 180,
  rankDelayMs: 10,
  minHoldMs: 0,
  preempt: false,
  preemptDelayMs: 0,
  prePromote: false,
  handoverDrainMs: 0,
};
const E = TIMING.electionTimeoutMs;

const THREE: SimMember[] = [
  { id: "n1", role: "voter", priority: 200 },
  { id: "n2", role: "voter", priority: 100 },
  { id: "n3", role: "voter", priority: 50 },
];

function quietCluster(members: SimMember[] = THREE): World {
  const world = new World(11, members, TIMING, null);
  for (const a of world.nodes) {
    for (const b of world.nodes) {
      if (a !== b) {
        world.profiles.set(`${a.id}>${b.id}`, {
          baseMs: 1,
          jitterMs: 0.2,
          tailChance: 0,
          tailMs: 0,
        });
      }
    }
  }
  for (const node of world.nodes) world.boot(node, false);
  world.runUntil(5 * E);
  assert.deepEqual(world.actingMasters(), ["n1"]);
  return world;
}

function block(world: World, from: string, to: string): void {
  world.blocked.add(`${from}>${to}`);
}

/** First promote/demote times per node after `fromMs`, read from a fresh run. */
function runAndWatch(
  world: World,
  untilMs: number,
): { demotedMs: Map<string, number>; promotedMs: Map<string, number> } {
  const demotedMs = new Map<string, number>();
  const promotedMs = new Map<string, number>();
  const wasMaster = new Set(world.actingMasters());
  while (world.nowMs < untilMs && world.violation === null) {
    world.runUntil(Math.min(untilMs, world.queue.peekMs()));
    const now = new Set(world.actingMasters());
    for (const id of wasMaster) {
      if (!now.has(id) && !demotedMs.has(id)) demotedMs.set(id, world.nowMs);
    }
    for (const id of now) {
      if (!wasMaster.has(id) && !promotedMs.has(id)) {
        promotedMs.set(id, world.nowMs);
      }
    }
    wasMaster.clear();
    for (const id of now) wasMaster.add(id);
  }
  assert.equal(world.violation, null, world.violation?.message);
  return { demotedMs, promotedMs };
}

Deno.test("3 nodes, master isolated both ways: it demotes before anyone promotes", () => {
  const world = quietCluster();
  const cutMs = world.nowMs;
  for (const other of ["n2", "n3"]) {
    block(world, "n1", other);
    block(world, other, "n1");
  }
  const { demotedMs, promotedMs } = runAndWatch(world, cutMs + 4 * E);
  const demoted = demotedMs.get("n1");
  const promoted = promotedMs.get("n2");
  assert.ok(demoted !== undefined && promoted !== undefined);
  assert.ok(
    demoted <= promoted,
    `n1 demoted ${demoted}, n2 promoted ${promoted}`,
  );
  assert.ok(demoted - cutMs <= TIMING.leaseMs * 1.02);
  assert.ok(promoted - cutMs <= 2 * E, `failover took ${promoted - cutMs} ms`);
});

Deno.test("3 nodes, master hears nothing (one-way): it demotes and n2 takes over", () => {
  const world = quietCluster();
  block(world, "n2", "n1");
  block(world, "n3", "n1");
  const { demotedMs, promotedMs } = runAndWatch(world, world.nowMs + 4 * E);
  assert.ok((demotedMs.get("n1") ?? Infinity) <= (promotedMs.get("n2") ?? -1));
});

Deno.test("3 nodes, master cannot send (one-way): followers elect n2 after the lease", () => {
  const world = quietCluster();
  block(world, "n1", "n2");
  block(world, "n1", "n3");
  const { demotedMs, promotedMs } = runAndWatch(world, world.nowMs + 4 * E);
  assert.ok((demotedMs.get("n1") ?? Infinity) <= (promotedMs.get("n2") ?? -1));
  assert.deepEqual(world.actingMasters(), ["n2"]);
});

Deno.test("3 nodes, one follower cut off from the master: no election, master stays", () => {
  const world = quietCluster();
  block(world, "n1", "n3");
  block(world, "n3", "n1");
  const { demotedMs, promotedMs } = runAndWatch(world, world.nowMs + 10 * E);
  assert.equal(demotedMs.size, 0);
  assert.equal(promotedMs.size, 0);
  assert.deepEqual(world.actingMasters(), ["n1"]);
});

Deno.test("3 nodes, a flapping link to a follower never costs the master its role", () => {
  const world = quietCluster();
  for (let i = 0; i < 20; i++) {
    world.schedule(
      i * 0.5 * E,
      `flap ${i}`,
      () => world.disconnect("n1", "n2", true),
    );
  }
  const { demotedMs, promotedMs } = runAndWatch(world, world.nowMs + 12 * E);
  assert.equal(demotedMs.size, 0);
  assert.equal(promotedMs.size, 0);
});

Deno.test("3 nodes, master paused longer than E: it demotes on resume, the new master was alone", () => {
  const world = quietCluster();
  const master = world.node("n1");
  master.pausedUntilMs = world.nowMs + 3 * E;
  const { promotedMs } = runAndWatch(world, world.nowMs + 6 * E);
  assert.ok(promotedMs.has("n2"));
  assert.deepEqual(world.actingMasters(), ["n2"]);
  assert.equal(master.masterTerm, null, "n1 demoted after resuming");
});

Deno.test("2 voters + witness, witness lost: the master keeps its role with the other voter", () => {
  const world = quietCluster([
    { id: "n1", role: "voter", priority: 200 },
    { id: "n2", role: "voter", priority: 100 },
    { id: "w", role: "witness", priority: 0 },
  ]);
  world.crash(world.node("w"), "test");
  const { demotedMs } = runAndWatch(world, world.nowMs + 10 * E);
  assert.equal(demotedMs.size, 0);
  assert.deepEqual(world.actingMasters(), ["n1"]);
});

Deno.test("2 voters + witness, master crashes: the witness elects n2", () => {
  const world = quietCluster([
    { id: "n1", role: "voter", priority: 200 },
    { id: "n2", role: "voter", priority: 100 },
    { id: "w", role: "witness", priority: 0 },
  ]);
  world.crash(world.node("n1"), "test");
  runAndWatch(world, world.nowMs + 4 * E);
  assert.deepEqual(world.actingMasters().filter((id) => !id.includes("(")), [
    "n2",
  ]);
});
