/**
 * State transitions of the core, as in etcd-io/raft: becomeFollower,
 * becomePreCandidate, becomeCandidate, becomeLeader, plus the one place a
 * promoted leader emits `demote`. Each transition resets exactly the state
 * the new role must not inherit. Never sends a vote answer (see _vote.ts).
 */

import { assert } from "./assert.ts";
import type { HandoverClaim } from "./message.ts";
import { type DemoteReason, isDemoteReason } from "./types.ts";
import {
  broadcast,
  type CoreState,
  inLease,
  inRestartEmbargo,
  log,
  newLease,
  resetElectionTimer,
  selfEligible,
  setTermAndVote,
} from "./_state.ts";

/**
 * Stops acting as master if we had promoted. After this, nothing may treat
 * this node as master in this term (the lease may still run on paper, but the
 * shell has been told to stop).
 */
export function demoteIfPromoted(
  s: CoreState,
  reason: DemoteReason,
  handover: boolean,
): void {
  if (!s.promoted) return;
  s.promoted = false;
  s.masterSinceMs = null;
  s.out.push({ kind: "demote", term: s.term, reason, handover });
  log(s, "warn", "demote", { reason, handover });
}

/** Internal reasons that all mean "a message of a newer term arrived". */
const NEWER_TERM_REASONS = [
  "heartbeat",
  "higher_term_ack",
  "higher_term_pre_vote",
  "higher_term_vote",
  "vote_request",
] as const;

/**
 * Why a node becomes a follower: a public demote reason, a newer term, or
 * one of the reasons that only ever end a campaign or an unpromoted term
 * (logged; drivers never see them). Every reason is listed here, so a new
 * one must say which it is.
 */
export type FollowReason =
  | DemoteReason
  | typeof NEWER_TERM_REASONS[number]
  | "no_quorum_after_election"
  | "pre_promote_veto"
  | "split_vote"
  | "campaign_timeout"
  | "ineligible"
  | "no_longer_eligible"
  | `defer_to_${string}`;

/**
 * The public reason for a promoted leader that becomes a follower for the
 * internal `reason`. A heartbeat, ack, late (pre-)vote answer or granted
 * vote request of a newer term all mean a newer term began (the last only
 * in a mutated test core). Any other reason must already be a documented one: a
 * master stepping down for a reason drivers cannot be told is a bug.
 */
function demoteReasonOf(reason: FollowReason): DemoteReason {
  if ((NEWER_TERM_REASONS as readonly string[]).includes(reason)) {
    return "higher_term";
  }
  assert(isDemoteReason(reason), `demote for undocumented reason "${reason}"`);
  return reason;
}

/**
 * Becomes a follower at `term` (≥ current), following `leaderId` when known.
 * A higher term clears the vote (and persists that). `keepTimer` leaves the
 * election timer running: learning a term is not hearing from a leader.
 */
export function becomeFollower(
  s: CoreState,
  term: number,
  leaderId: string | null,
  reason: FollowReason,
  keepTimer = false,
): void {
  assert(term >= s.term, `becomeFollower to older term ${term} < ${s.term}`);
  if (s.promoted) demoteIfPromoted(s, demoteReasonOf(reason), false);
  if (s.handover !== null && term > s.handover.term) {
    // A newer term overtook the handover; the old master can no longer hand over.
    if (s.handover.requestId !== null) {
      s.out.push({
        kind: "reply",
        requestId: s.handover.requestId,
        ok: false,
        message: `handover interrupted: term ${term} began`,
      });
    }
    s.handover = null;
  }
  const wasState = s.state;
  if (term > s.term) {
    log(s, "info", "term_adopted", { newTerm: term, reason });
    setTermAndVote(s, term, null);
  }
  s.state = "follower";
  s.leaderId = leaderId;
  s.lease = null;
  s.prePromotePending = false;
  s.prePromoteApproved = false;
  s.preemptSinceMs = null;
  s.votes.clear();
  s.refused.clear();
  s.handoverClaim = null;
  if (wasState !== "follower") {
    log(s, "info", "become_follower", {
      from: wasState,
      reason,
      leader: leaderId,
    });
  }
  if (!keepTimer) resetElectionTimer(s);
}

/**
 * Starts a pre-vote: asks whether a majority would vote for us at term+1,
 * without changing any term anywhere, so a partitioned node that keeps
 * failing cannot inflate terms and unseat a healthy master when it returns.
 */
export function becomePreCandidate(s: CoreState, why: string): void {
  assert(s.state !== "leader", "a leader does not pre-campaign");
  s.state = "pre_candidate";
  s.campaignStartMs = s.nowMs;
  s.lastRequestMs = s.nowMs;
  s.votes = new Set([s.self.id]);
  s.refused = new Set();
  s.handoverClaim = null;
  // The election timer keeps measuring the silence of the leader: if a
  // refusal teaches us a newer term, we may ask again at once.
  log(s, "info", "campaign", {
    phase: "pre_vote",
    proposedTerm: s.term + 1,
    why,
  });
  broadcast(s, {
    type: "pre_vote_request",
    term: s.term,
    proposedTerm: s.term + 1,
  });
  if (s.votes.size >= s.quorum) becomeCandidate(s, null);
}

/**
 * Starts a real election at term+1, voting for ourselves (persisted before
 * the requests leave). `claim` names the master that handed over to us.
 */
export function becomeCandidate(
  s: CoreState,
  claim: HandoverClaim | null,
): void {
  assert(s.state !== "leader", "a leader does not campaign");
  assert(selfEligible(s) && !inRestartEmbargo(s), "ineligible node campaigns");
  // Our own vote obeys the same rule as everyone's: no vote inside a lease,
  // except for the handover from exactly the master we follow.
  assert(
    !inLease(s) || (claim !== null && claim.leaderId === s.leaderHeardId &&
      claim.term === s.leaderHeardTerm),
    "campaign inside a lease",
  );
  setTermAndVote(s, s.term + 1, s.self.id);
  s.state = "candidate";
  s.leaderId = null;
  s.campaignStartMs = s.nowMs;
  s.lastRequestMs = s.nowMs;
  s.votes = new Set([s.self.id]);
  s.refused = new Set();
  s.handoverClaim = claim;
  resetElectionTimer(s);
  log(s, "info", "campaign", {
    phase: "vote",
    handoverFrom: claim?.leaderId ?? null,
  });
  broadcast(s, { type: "vote_request", term: s.term, handover: claim });
  if (s.votes.size >= s.quorum) becomeLeader(s);
}

/**
 * Won the election. Not master yet: the first heartbeat round must gather a
 * majority (the lease), and pre_promote may still veto.
 */
export function becomeLeader(s: CoreState): void {
  assert(s.state === "candidate", `becomeLeader from ${s.state}`);
  assert(s.votedFor === s.self.id, "leader without its own vote");
  s.state = "leader";
  s.leaderId = s.self.id;
  s.leaderSinceMs = s.nowMs;
  s.nextRenewMs = s.nowMs;
  s.lease = newLease(s);
  s.marginSuspended = false;
  s.promoted = false;
  s.prePromotePending = false;
  s.prePromoteApproved = !s.opts.prePromote;
  s.handover = null;
  s.preemptSinceMs = null;
  s.promoteReason = s.handoverClaim === null ? "elected" : "handover";
  s.handoverClaim = null;
  s.leaderHeardId = s.self.id;
  s.leaderHeardTerm = s.term;
  s.leaderHeardMs = s.nowMs;
  log(s, "info", "elected", { votes: [...s.votes].sort().join(",") });
}
