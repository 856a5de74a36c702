/**
 * One simulated schedule from one seed: builds a cluster (2+witness, 3, 5 or
 * 7 members, varied priorities), then runs three phases with checkers:
 *   stable   — no faults: one election, then none at all (checker 4);
 *   safety   — random faults; after every event at most one acting master
 *              and at most one master per term (checkers 1, 2);
 *   liveness — everything healed: a master within the bound, then the master
 *              is killed and a new one must appear within E + rank·Δ + RTTs
 *              (checker 3).
 */

import type { ElectionMutation } from "../../src/election/types.ts";
import { stepDownMarginMs } from "../../src/election/lease.ts";
import { Prng } from "../../src/election/prng.ts";
import { healAll, injectFault } from "./faults.ts";
import { type DelayProfile, maxDelay } from "./delay.ts";
import {
  SIM_RHO,
  type SimMember,
  type SimTiming,
  type Violation,
  World,
} from "./world.ts";

/** Cluster shapes: 2 means two voters plus a witness. */
export const CLUSTER_SIZES = [2, 3, 5, 7] as const;
export type ClusterSize = typeof CLUSTER_SIZES[number];

/** Phase lengths in election timeouts. */
export const STABLE_PHASE_E = 15;
export const SAFETY_PHASE_E = 30;

/** What to run. */
export interface ScheduleOptions {
  seed: number;
  /** Cluster shape; by default it rotates with the seed. */
  nodes?: ClusterSize;
  /** Test-only fault in the core (the split-brain mutation). */
  mutation?: ElectionMutation;
  /** Faults in the safety phase; by default 4..15 drawn from the seed. */
  faults?: number;
}

/** Outcome of one schedule. */
export interface ScheduleResult {
  seed: number;
  nodes: ClusterSize;
  violation: Violation | null;
  events: number;
  simulatedMs: number;
  /** Measured failover time in the liveness phase (ms), when it ran. */
  failoverMs: number | null;
}

function members(prng: Prng, size: ClusterSize): SimMember[] {
  const priorities = [0, 50, 100, 100, 150, 200];
  if (size === 2) {
    return [
      { id: "n1", role: "voter", priority: 50 + prng.intBelow(3) * 50 },
      { id: "n2", role: "voter", priority: 50 + prng.intBelow(3) * 50 },
      { id: "w", role: "witness", priority: 0 },
    ];
  }
  const out: SimMember[] = [];
  for (let i = 1; i <= size; i++) {
    // Keep the first two eligible so a majority can always elect someone.
    const priority = i <= 2
      ? 50 + prng.intBelow(4) * 50
      : priorities[prng.intBelow(priorities.length)] ?? 100;
    const witness = size >= 5 && i === size && prng.chance(0.5);
    out.push(
      witness
        ? { id: `n${i}`, role: "witness", priority: 0 }
        : { id: `n${i}`, role: "voter", priority },
    );
  }
  return out;
}

function timing(prng: Prng): SimTiming {
  const heartbeatMs = 100;
  const electionTimeoutMs = 2 * heartbeatMs;
  return {
    heartbeatMs,
    electionTimeoutMs,
    leaseMs: 0.9 * electionTimeoutMs,
    rankDelayMs: Math.min(heartbeatMs / 10, 100),
    minHoldMs: prng.chance(0.5) ? 0 : 3 * electionTimeoutMs,
    preempt: prng.chance(0.3),
    preemptDelayMs: 3 * electionTimeoutMs,
    prePromote: prng.chance(0.5),
    handoverDrainMs: prng.chance(0.3)
      ? prng.between(0, 2 * electionTimeoutMs)
      : 0,
  };
}

function profiles(world: World): Map<string, DelayProfile> {
  const out = new Map<string, DelayProfile>();
  for (const a of world.nodes) {
    for (const b of world.nodes) {
      if (a === b) continue;
      out.set(`${a.id}>${b.id}`, {
        baseMs: world.prng.between(0.1, 2),
        jitterMs: world.prng.between(0.05, 1),
        tailChance: world.prng.chance(0.5) ? world.prng.between(0, 0.02) : 0,
        tailMs: world.prng.between(2, 8),
      });
    }
  }
  return out;
}

/**
 * How long a step-down's demote hook may run and still end before any other
 * node promotes: a voter of the last lease majority refuses votes until E
 * (its clock) after that round, the leader stepped down L − M (its clock)
 * after it; both clocks drift by ρ, and a tick may run 0.5 ms late.
 */
export function stepDownBudgetMs(timing: SimTiming): number {
  const { heartbeatMs, electionTimeoutMs, leaseMs } = timing;
  const margin = stepDownMarginMs(heartbeatMs, leaseMs);
  return electionTimeoutMs / (1 + SIM_RHO) -
    (leaseMs - margin) * (1 + SIM_RHO) - 0.5;
}

/** Runs one schedule; deterministic in `options`. */
export function runSchedule(options: ScheduleOptions): ScheduleResult {
  const prng = new Prng(options.seed);
  const size = options.nodes ??
    CLUSTER_SIZES[options.seed % CLUSTER_SIZES.length] ?? 3;
  const cluster = members(prng, size);
  const simTiming = timing(prng);
  const world = new World(
    prng.nextUint32(),
    cluster,
    simTiming,
    options.mutation ?? null,
  );
  const baseProfiles = profiles(world);
  for (const [direction, profile] of baseProfiles) {
    world.profiles.set(direction, profile);
  }
  world.demoteDelayMaxMs = 0.5 * simTiming.electionTimeoutMs;
  world.demoteHookMaxMs = stepDownBudgetMs(simTiming);
  // Within the restart embargo E, so a start demote never delays liveness.
  world.startDemoteMaxMs = 0.5 * simTiming.electionTimeoutMs;
  world.prePromoteDelayMaxMs = 0.1 * simTiming.electionTimeoutMs;
  const E = simTiming.electionTimeoutMs;
  const worstDelayMs = Math.max(...[...baseProfiles.values()].map(maxDelay));
  const eligible =
    cluster.filter((m) => m.role === "voter" && m.priority > 0).length;
  // E + rank·Δ (+ jitter < Δ/2) on the slowest clock, then pre-vote, vote and
  // lease round trips, a re-ask of a voter whose window ended a little later,
  // tick lateness and the pre_promote script.
  const failBoundMs =
    (E + (eligible - 1) * simTiming.rankDelayMs + simTiming.rankDelayMs / 2) *
      (1 + SIM_RHO) ** 2 +
    6 * worstDelayMs + 2 * simTiming.rankDelayMs +
    world.prePromoteDelayMaxMs + 2;
  const result = (failoverMs: number | null): ScheduleResult => ({
    seed: options.seed,
    nodes: size,
    violation: world.violation,
    events: world.events,
    simulatedMs: world.nowMs,
    failoverMs,
  });

  // Stable phase: start everyone; after the first promotion nothing may move.
  for (const node of world.nodes) world.boot(node, false);
  world.onPromote = () => {
    world.checkers.stableSinceMs ??= world.nowMs;
  };
  // Embargo E, then the rank-0 node's timer: the same bound as a failover.
  const firstMasterByMs = E * (1 + SIM_RHO) + failBoundMs + 30;
  world.runUntil(firstMasterByMs);
  if (world.violation !== null) return result(null);
  if (world.actingMasters().length === 0) {
    world.fail(
      "liveness",
      `no master ${firstMasterByMs.toFixed(1)} ms after cluster start`,
    );
    return result(null);
  }
  world.runUntil(STABLE_PHASE_E * E);
  world.checkers.stableSinceMs = null;
  world.onPromote = null;
  if (world.violation !== null) return result(null);

  // Safety phase: random faults.
  const safetyEndMs = world.nowMs + SAFETY_PHASE_E * E;
  const faults = options.faults ?? 4 + prng.intBelow(12);
  world.vetoChance = 0.2;
  for (let i = 0; i < faults; i++) {
    world.schedule(
      prng.between(0, SAFETY_PHASE_E * E - 6 * E),
      "fault",
      () => injectFault(world),
    );
  }
  // Vetoes keep a node ineligible for a while: stop them well before the heal.
  world.schedule(SAFETY_PHASE_E * E - 5 * E, "vetoes off", () => {
    world.vetoChance = 0;
  });
  world.runUntil(safetyEndMs);
  if (world.violation !== null) return result(null);

  // Liveness phase: heal; a master must exist within the bound.
  healAll(world, baseProfiles);
  const healMs = world.nowMs;
  // After E (+ drift) every refusal window and restart embargo has ended; a
  // campaign in flight may need one more try (E), and a handover may still
  // wait for its demote drivers.
  const healBoundMs = 2 * E * (1 + SIM_RHO) + failBoundMs +
    world.demoteDelayMaxMs;
  if (!runUntilMaster(world, healMs + healBoundMs, null)) {
    world.fail(
      "liveness",
      `no master ${healBoundMs.toFixed(1)} ms after the network healed`,
    );
    return result(null);
  }
  // Let preemption or a pending handover settle, then take whoever is master.
  world.runUntil(world.nowMs + 3 * E);
  if (!runUntilMaster(world, world.nowMs + healBoundMs, null)) {
    world.fail("liveness", "no master in a healed, quiet cluster");
    return result(null);
  }
  const master = world.actingMasters().find((id) => !id.includes("("));
  if (master === undefined) return result(null);
  const killedMs = world.nowMs;
  world.crash(world.node(master), "liveness: kill the master");
  if (!runUntilMaster(world, killedMs + failBoundMs, master)) {
    world.fail(
      "liveness",
      `no new master ${
        failBoundMs.toFixed(1)
      } ms after killing master ${master}`,
    );
    return result(null);
  }
  return result(world.nowMs - killedMs);
}

/** Runs until some node other than `except` acts as master, or `deadlineMs`. */
function runUntilMaster(
  world: World,
  deadlineMs: number,
  except: string | null,
): boolean {
  const found = () =>
    world.actingMasters().some((id) => id !== except && !id.includes("("));
  while (world.violation === null && world.nowMs < deadlineMs) {
    if (found()) return true;
    world.runUntil(Math.min(deadlineMs, world.queue.peekMs()));
  }
  return found();
}
