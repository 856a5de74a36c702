/**
 * Operator commands and planned handovers of the etcd election: switchover,
 * drain, undrain, shutdown, pause/resume, and a master whose checks fail.
 * A handover demotes first, and only when the demote drivers finished does
 * the master delete its key and leave a handover key naming the target.
 * Never bypasses the lease: a handover only makes the master stop earlier.
 */

import {
  bestOther,
  dropLease,
  eligible,
  type EtcdState,
  isMaster,
  log,
  reply,
  request,
} from "./_state.ts";
import type { EtcdCommand } from "./types.ts";

/** Handles one command; replies now or when its handover completes. */
export function onCommand(
  s: EtcdState,
  requestId: string,
  command: EtcdCommand,
): void {
  log(s, "info", "command", { type: command.type, requestId });
  switch (command.type) {
    case "switchover":
      return switchover(s, requestId, command.to ?? null);
    case "drain":
      s.drained = true;
      return leave(s, requestId, "drain");
    case "shutdown":
      s.shuttingDown = true;
      return leave(s, requestId, "shutdown");
    case "undrain":
      s.drained = false;
      return reply(
        s,
        requestId,
        true,
        "undrained: eligible again if checks pass",
      );
    case "pause":
    case "resume": {
      const paused = command.type === "pause";
      return request(s, { kind: "set_pause", paused, requestId });
    }
  }
}

/** A master whose checks fail or that was drained hands over when it can. */
export function maybeLeave(s: EtcdState): void {
  if (!isMaster(s, s.nowMs) || eligible(s)) return;
  const to = bestOther(s);
  if (to === null) return;
  startLeave(s, s.drained ? "drain" : "check_failed", to, null);
}

function startLeave(
  s: EtcdState,
  reason: string,
  to: string | null,
  requestId: string | null,
): void {
  const term = s.term;
  s.leaving = { reason, to, requestId, term, demoted: false };
  s.promoted = false;
  s.masterSinceMs = null;
  log(s, "info", "handover", { reason, target: to });
  s.out.push({ kind: "demote", term, reason, handover: true });
}

/** Our demote drivers finished: now give the key up for the target. */
export function onDemoteDone(s: EtcdState, term: number): void {
  const leaving = s.leaving;
  if (leaving === null || leaving.term !== term || leaving.demoted) return;
  leaving.demoted = true;
  const leaseId = s.lease.id;
  if (leaseId === null) return onResigned(s, false, "lease lost");
  const handover = { from: s.o.selfId, to: leaving.to };
  request(s, { kind: "resign", leaseId, handover });
}

/** The resign transaction answered (or could not be sent). */
export function onResigned(
  s: EtcdState,
  ok: boolean,
  error: string | null,
): void {
  const leaving = s.leaving;
  if (leaving === null) return;
  s.leaving = null;
  s.state = "follower";
  // Give the target one TTL to take the key before we would campaign.
  s.holdUntilMs = s.nowMs + s.o.ttlMs;
  // Without the resign, the key goes with our lease.
  if (!ok || s.shuttingDown) dropLease(s);
  log(s, "info", "resigned", { reason: leaving.reason, ok, error });
  if (leaving.requestId === null) return;
  const target = leaving.to ?? "any eligible node";
  const text = ok
    ? `${leaving.reason}: handed over to ${target}`
    : `${leaving.reason}: ${error ?? "failed"}; the key expires with the lease`;
  reply(s, leaving.requestId, ok, text);
}

/** Why `target` cannot take over, or null when it can. */
function targetProblem(s: EtcdState, target: string): string | null {
  const member = s.view.members.get(target);
  if (member === undefined) return `"${target}" is not a live member`;
  if (!member.eligible || member.role !== "voter" || member.priority === 0) {
    return `"${target}" is not eligible (checks, drain, witness or priority 0)`;
  }
  return null;
}

function switchover(s: EtcdState, requestId: string, to: string | null): void {
  if (!isMaster(s, s.nowMs)) {
    const master = s.view.master?.holder ?? null;
    const where = master === null ? "" : ` (master is ${master})`;
    return reply(s, requestId, false, `this node is not master${where}`);
  }
  const target = to ?? bestOther(s);
  if (target === null) {
    return reply(s, requestId, false, "no eligible node to hand over to");
  }
  const problem = targetProblem(s, target);
  if (problem !== null) return reply(s, requestId, false, problem);
  startLeave(s, "switchover", target, requestId);
}

/** Drain or shutdown: a master hands over; anyone else stops campaigning. */
function leave(s: EtcdState, requestId: string, reason: string): void {
  if (s.leaving !== null) {
    return reply(s, requestId, true, `${reason}: handover already in progress`);
  }
  if (isMaster(s, s.nowMs)) {
    const to = bestOther(s);
    if (to !== null || reason === "shutdown") {
      return startLeave(s, reason, to, requestId);
    }
    const text =
      `${reason}: no eligible node to hand over to; staying master until one is`;
    return reply(s, requestId, true, text);
  }
  if (s.state === "candidate") s.state = "follower";
  if (reason === "shutdown") dropLease(s);
  reply(s, requestId, true, `${reason}: not master`);
}
