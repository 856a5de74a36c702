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
  promote,
  reply,
  request,
  VETO_COOLDOWN_TTLS,
} from "./_state.ts";
import type { DemoteReason } from "../election/types.ts";
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

/**
 * A drained master hands over when it can; one whose checks fail, or (with
 * preempt) that sees a better eligible node for preempt_delay_ms, only after
 * min_hold_ms, so a fresh master does not flap.
 */
export function maybeLeave(s: EtcdState): void {
  if (!isMaster(s, s.nowMs)) {
    s.preemptSinceMs = null;
    return;
  }
  const held = s.masterSinceMs !== null &&
    s.nowMs - s.masterSinceMs >= (s.o.minHoldMs ?? 0);
  if (!eligible(s)) {
    const to = bestOther(s);
    if (to === null || (!s.drained && !held)) return;
    return startLeave(s, s.drained ? "drain" : "check_failed", to, null);
  }
  const better = preemptCandidate(s);
  if (better === null) {
    s.preemptSinceMs = null;
    return;
  }
  s.preemptSinceMs ??= s.nowMs;
  if (held && s.nowMs - s.preemptSinceMs >= (s.o.preemptDelayMs ?? 0)) {
    startLeave(s, "preempted", better, null);
  }
}

/** With preempt on: the best eligible member of higher priority, if any. */
function preemptCandidate(s: EtcdState): string | null {
  if (s.o.preempt !== true) return null;
  const best = bestOther(s);
  const member = best === null ? undefined : s.view.members.get(best);
  return member !== undefined && member.priority > s.o.priority ? best : null;
}

/** When maybeLeave() next needs a step (hold or preempt delay ending). */
export function leaveWakeMs(s: EtcdState): number {
  if (s.masterSinceMs === null) return Infinity;
  const holdEndMs = s.masterSinceMs + (s.o.minHoldMs ?? 0);
  const preemptAtMs = s.preemptSinceMs === null
    ? Infinity
    : s.preemptSinceMs + (s.o.preemptDelayMs ?? 0);
  const wake = Math.min(
    holdEndMs > s.nowMs ? holdEndMs : Infinity,
    preemptAtMs > s.nowMs ? preemptAtMs : Infinity,
  );
  return wake;
}

/** The pre_promote hook answered for the key we won in `term`. */
export function onPrePromoteResult(
  s: EtcdState,
  term: number,
  ok: boolean,
): void {
  if (!s.prePromotePending || s.state !== "leader" || term !== s.term) {
    log(s, "debug", "pre_promote_stale", { resultTerm: term, ok });
    return;
  }
  s.prePromotePending = false;
  if (ok) return promote(s);
  // Vetoed: give the key up for the best other node and stay ineligible a
  // while, so the others go first. Nothing to demote: we never promoted.
  s.vetoUntilMs = s.nowMs + VETO_COOLDOWN_TTLS * s.o.ttlMs;
  log(s, "warn", "pre_promote_veto", { term });
  const to = bestOther(s);
  s.leaving = {
    reason: "pre_promote_veto",
    to,
    requestId: null,
    term,
    demoted: true,
  };
  const leaseId = s.lease.id;
  if (leaseId === null) return onResigned(s, false, "lease lost");
  request(s, { kind: "resign", leaseId, handover: { from: s.o.selfId, to } });
}

function startLeave(
  s: EtcdState,
  reason: DemoteReason,
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
  // The resign deleted the key; the watch may not have said so yet, and
  // must not make us think we still hold it.
  if (ok && s.view.master?.holder === s.o.selfId) s.view.master = null;
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
function leave(
  s: EtcdState,
  requestId: string,
  reason: "drain" | "shutdown",
): void {
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
