/**
 * The leader's side: lease rounds, check-quorum, promotion (with optional
 * pre_promote veto), and handover (Raft's TimeoutNow) for switchover, drain,
 * shutdown, failing checks and preemption. Never answers votes and never
 * promotes without a valid lease.
 */

import { assert } from "./assert.ts";
import type { HeartbeatAckMessage } from "./message.ts";
import { type DemoteReason, isDemoteReason } from "./types.ts";
import {
  bestHandoverTarget,
  broadcast,
  type CoreState,
  log,
  peerAlive,
  peerCanLead,
  selfEligible,
  send,
} from "./_state.ts";
import { becomeFollower, demoteIfPromoted } from "./_transitions.ts";

/** Pre-promote veto keeps this node ineligible for this many election timeouts. */
export const VETO_COOLDOWN_ELECTION_TIMEOUTS = 4;

/**
 * True while the lease has more than the step-down margin M left: the part
 * of the lease a leader may act in. The last M is left to its demote drivers.
 */
function leaseUsable(s: CoreState, nowMs: number): boolean {
  const margin = s.marginSuspended ? 0 : s.stepDownMarginMs;
  return s.lease !== null && s.lease.validAt(nowMs + margin);
}

/**
 * The one mapping from Raft state to "master": leader, promoted, lease valid
 * for more than the step-down margin.
 */
export function isMaster(s: CoreState, nowMs: number): boolean {
  if (s.state !== "leader" || !s.promoted || s.handover !== null) return false;
  if (s.opts.mutation === "ignore_lease_expiry") return true;
  return leaseUsable(s, nowMs);
}

/**
 * Check-quorum, run first on every input: a leader whose lease is within the
 * step-down margin of its end (or that never gathered one within E) steps
 * down without waiting for anyone, leaving its demote drivers the margin plus
 * E − L before anyone else can promote. A lease found already over (we were
 * paused, or our loop stalled) is `lease_expired`; this is also what makes a
 * paused master demote on resume before it sends.
 */
export function checkLease(s: CoreState): void {
  if (s.state !== "leader" || s.lease === null) return;
  if (s.opts.mutation === "ignore_lease_expiry") return;
  const { lease } = s;
  if (lease.acquired && !leaseUsable(s, s.nowMs)) {
    const reason: DemoteReason = lease.validAt(s.nowMs)
      ? "quorum_lost"
      : "lease_expired";
    const leaseRemainingMs = Math.round(lease.untilMs - s.nowMs);
    becomeFollower(s, s.term, null, reason);
    log(s, "warn", "step_down", {
      reason,
      leaseRemainingMs,
      marginMs: s.stepDownMarginMs,
    });
  } else if (
    !lease.acquired && s.nowMs - s.leaderSinceMs >= s.opts.electionTimeoutMs
  ) {
    becomeFollower(s, s.term, null, "no_quorum_after_election");
  }
}

/**
 * Sends a lease round when due (every h/2); never once a handover's demote
 * started. During the handover wait it still renews: the drivers still hold
 * what a master holds, so the lease must keep every other node out.
 */
export function renewIfDue(s: CoreState): void {
  if (s.state !== "leader" || s.lease === null) return;
  if (s.handover !== null && s.handover.demoteAtMs === null) return;
  if (s.nowMs < s.nextRenewMs) return;
  const round = s.lease.startRound(s.nowMs, s.self.id);
  s.nextRenewMs = s.nowMs + s.opts.heartbeatMs / 2;
  s.leaderHeardMs = s.nowMs;
  broadcast(s, {
    type: "heartbeat",
    term: s.term,
    round,
    master: isMaster(s, s.nowMs),
    eligible: selfEligible(s),
    priority: s.opts.priority,
  });
  afterLeaseChange(s);
}

/** Counts a follower's ack of our lease round. */
export function onHeartbeatAck(
  s: CoreState,
  from: string,
  message: HeartbeatAckMessage,
): void {
  if (message.term > s.term) {
    becomeFollower(s, message.term, null, "higher_term_ack");
    return;
  }
  if (s.state !== "leader" || message.term !== s.term || !message.ok) return;
  if (s.lease?.ack(message.round, from)) {
    if (s.lease.validAt(s.nowMs + s.stepDownMarginMs)) {
      s.marginSuspended = false;
    }
    log(s, "debug", "lease_extended", {
      round: message.round,
      remainingMs: Math.round(s.lease.untilMs - s.nowMs),
    });
    afterLeaseChange(s);
  }
}

/** Promotes (or asks pre_promote) once the lease is valid. */
function afterLeaseChange(s: CoreState): void {
  if (s.state !== "leader" || s.lease === null || s.handover !== null) return;
  if (s.promoted || !leaseUsable(s, s.nowMs)) return;
  if (!s.prePromoteApproved) {
    if (!s.prePromotePending) {
      s.prePromotePending = true;
      s.out.push({ kind: "pre_promote", term: s.term });
      log(s, "info", "pre_promote", {});
    }
    return;
  }
  assert(leaseUsable(s, s.nowMs), "promote without a valid lease");
  s.promoted = true;
  s.masterSinceMs = s.nowMs;
  s.out.push({ kind: "promote", term: s.term, reason: s.promoteReason });
  log(s, "info", "promote", {
    reason: s.promoteReason,
    leaseRemainingMs: Math.round(s.lease.untilMs - s.nowMs),
  });
}

/** Result of the pre_promote script for `term`. */
export function onPrePromoteResult(
  s: CoreState,
  term: number,
  ok: boolean,
): void {
  if (s.state !== "leader" || term !== s.term || !s.prePromotePending) {
    log(s, "debug", "pre_promote_stale", { resultTerm: term, ok });
    return;
  }
  s.prePromotePending = false;
  if (ok) {
    s.prePromoteApproved = true;
    afterLeaseChange(s);
    return;
  }
  s.vetoUntilMs = s.nowMs +
    VETO_COOLDOWN_ELECTION_TIMEOUTS * s.opts.electionTimeoutMs;
  log(s, "warn", "pre_promote_veto", {});
  if (
    !startHandover(s, { reason: "pre_promote_veto", to: null, requestId: null })
  ) {
    becomeFollower(s, s.term, null, "pre_promote_veto");
  }
}

/** What starts a handover, and who asked (a veto comes before any promote). */
export interface HandoverRequest {
  reason: DemoteReason | "pre_promote_veto";
  to: string | null;
  requestId: string | null;
}

/**
 * Stops renewing and hands over: demote first (if promoted), then, when the
 * shell reports demote_done, TimeoutNow to the target. Returns false when
 * there is no eligible live target (shutdown proceeds without one).
 */
export function startHandover(s: CoreState, request: HandoverRequest): boolean {
  assert(
    s.state === "leader" && s.handover === null,
    "handover needs a leader",
  );
  const target = request.to ?? bestHandoverTarget(s);
  if (target === null && !s.shuttingDown) return false;
  const drainMs = s.opts.handoverDrainMs ?? 0;
  s.handover = {
    term: s.term,
    target,
    requestId: request.requestId,
    reason: request.reason,
    demoteAtMs: s.promoted && drainMs > 0 ? s.nowMs + drainMs : null,
  };
  log(s, "info", "handover", { reason: request.reason, target, drainMs });
  // With a wait, the master answers 503 as master from now on and demotes
  // in demoteAfterWait, once a load balancer has stopped sending to it.
  if (s.handover.demoteAtMs !== null) return true;
  if (s.promoted) {
    assert(request.reason !== "pre_promote_veto", "veto after promotion");
    demoteIfPromoted(s, request.reason, true);
  } else {
    finishHandover(s);
  }
  return true;
}

/** Ends the handover wait: demote now (the target campaigns after demote_done). */
export function demoteAfterWait(s: CoreState): void {
  const handover = s.handover;
  if (handover === null || handover.demoteAtMs === null) return;
  if (s.nowMs < handover.demoteAtMs) return;
  handover.demoteAtMs = null;
  if (s.state === "leader" && s.promoted) {
    // A wait is only ever set on a promoted master, so never for a veto.
    const reason = handover.reason;
    assert(isDemoteReason(reason), `handover wait with reason ${reason}`);
    demoteIfPromoted(s, reason, true);
    return;
  }
  // The lease ran out during the wait (that demote already ran, as a
  // failure): nothing is left to hand over.
  if (handover.requestId !== null) {
    s.out.push({
      kind: "reply",
      requestId: handover.requestId,
      ok: false,
      message: "lost the lease during the handover wait; not handed over",
    });
  }
  s.handover = null;
}

/** Demote drivers ran: tell the target to campaign, step down, answer. */
export function onDemoteDone(s: CoreState, term: number): void {
  const handover = s.handover;
  if (handover === null || handover.term !== term || s.term !== term) {
    log(s, "debug", "demote_done_stale", { doneTerm: term });
    return;
  }
  finishHandover(s);
}

function finishHandover(s: CoreState): void {
  const handover = s.handover;
  assert(handover !== null, "finishHandover without a handover");
  if (handover.target !== null) {
    send(s, handover.target, { type: "timeout_now", term: handover.term });
  }
  if (handover.requestId !== null) {
    s.out.push({
      kind: "reply",
      requestId: handover.requestId,
      ok: true,
      message: handover.target === null
        ? "demoted; no eligible node to hand over to"
        : `handed over to ${handover.target}`,
    });
  }
  log(s, "info", "handover_sent", { target: handover.target });
  s.handover = null;
  if (s.state === "leader") becomeFollower(s, s.term, null, handover.reason);
}

/**
 * Voluntary handovers a master starts by itself: drained (at once), failing
 * checks and preemption (both only after min_hold, so a new master does not
 * flap). Runs after every input.
 */
export function maybeVoluntaryHandover(s: CoreState): void {
  if (!isMaster(s, s.nowMs) || s.masterSinceMs === null) return;
  const held = s.nowMs - s.masterSinceMs >= s.opts.minHoldMs;
  if (s.drained || s.shuttingDown) {
    const reason = s.shuttingDown ? "shutdown" : "drain";
    startHandover(s, { reason, to: null, requestId: null });
    return;
  }
  if (!s.healthy) {
    // Paused: an operator is at work; failing checks move nothing.
    if (held && !s.paused) {
      startHandover(s, { reason: "check_failed", to: null, requestId: null });
    }
    return;
  }
  const better = s.paused ? null : preemptCandidate(s);
  if (better === null) {
    s.preemptSinceMs = null;
    return;
  }
  s.preemptSinceMs ??= s.nowMs;
  if (held && s.nowMs - s.preemptSinceMs >= s.opts.preemptDelayMs) {
    startHandover(s, { reason: "preempted", to: better, requestId: null });
  }
}

/** With preempt on: the best live eligible peer of higher priority, if any. */
function preemptCandidate(s: CoreState): string | null {
  if (!s.opts.preempt) return null;
  let best: string | null = null;
  let bestPriority = s.opts.priority;
  for (const peer of s.peers) {
    if (!peerCanLead(peer) || peer.eligible !== true) continue;
    const priority = peer.priority ?? 0;
    if (!peerAlive(s, peer) || priority <= bestPriority) continue;
    best = peer.member.id;
    bestPriority = priority;
  }
  return best;
}

/** Next time the leader needs a step (renewal, lease end, hold/preempt end). */
export function leaderWakeMs(s: CoreState): number {
  if (s.state !== "leader" || s.lease === null) return Number.POSITIVE_INFINITY;
  const margin = s.marginSuspended ? 0 : s.stepDownMarginMs;
  let wake = s.lease.acquired
    ? s.lease.untilMs - margin
    : s.leaderSinceMs + s.opts.electionTimeoutMs;
  const waiting = s.handover?.demoteAtMs ?? null;
  if (s.handover === null || waiting !== null) {
    wake = Math.min(wake, s.nextRenewMs);
  }
  if (waiting !== null) wake = Math.min(wake, waiting);
  if (s.masterSinceMs !== null) {
    const holdEnd = s.masterSinceMs + s.opts.minHoldMs;
    if (holdEnd > s.nowMs) wake = Math.min(wake, holdEnd);
    if (s.preemptSinceMs !== null) {
      const preemptAt = s.preemptSinceMs + s.opts.preemptDelayMs;
      if (preemptAt > s.nowMs) wake = Math.min(wake, preemptAt);
    }
  }
  return wake;
}
