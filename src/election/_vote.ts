/**
 * Votes, both sides. The voter's rules are the safety argument: one vote per
 * term (persisted before the answer leaves), no vote during the restart
 * embargo, and no (pre-)vote for E after hearing a leader, except for the
 * handover that names exactly the master and term we follow. The candidate's
 * side runs pre-vote, then the real vote, re-asking voters that have not
 * answered yet. Never promotes (see _leader.ts).
 */

import type {
  PreVoteRequestMessage,
  PreVoteResponseMessage,
  TimeoutNowMessage,
  VoteRequestMessage,
  VoteResponseMessage,
} from "./message.ts";
import {
  campaignDueMs,
  type CoreState,
  inLease,
  inRestartEmbargo,
  log,
  outranks,
  resetElectionTimer,
  selfEligible,
  send,
  setTermAndVote,
} from "./_state.ts";
import { compareRank } from "./rank.ts";
import {
  becomeCandidate,
  becomeFollower,
  becomeLeader,
  becomePreCandidate,
} from "./_transitions.ts";
import { pauseRefusal } from "./_pause.ts";

/**
 * Why we must refuse any vote right now, or null. Shared by pre-vote and vote
 * so the two can never disagree about the lease.
 */
function refusalReason(
  s: CoreState,
  from: string,
  claim: VoteRequestMessage["handover"],
): string | null {
  const candidate = s.peerById.get(from);
  // A witness by the shared member list, or a voter that advertised
  // priority 0 (a peer not heard yet gets the benefit of the doubt: its
  // priority is its own to set, and it never campaigns with 0).
  if (
    candidate === undefined || candidate.member.role !== "voter" ||
    candidate.priority === 0
  ) {
    return "candidate_never_master";
  }
  // Refuse: we may have acked a leader just before we restarted and forgot
  // when, so a vote now could elect a second master inside that lease.
  if (inRestartEmbargo(s)) return "restart_embargo";
  const paused = pauseRefusal(s, claim !== null);
  if (paused !== null) return paused;
  if (!inLease(s) || s.opts.mutation === "skip_lease_refusal") return null;
  // The master we follow stepped down and named this candidate: its lease
  // is no longer used, so the refusal that protects it can be skipped.
  if (
    claim !== null && s.state !== "leader" &&
    claim.leaderId === s.leaderHeardId && claim.term === s.leaderHeardTerm
  ) return null;
  // Refuse: we heard a leader within the election timeout, so granting would
  // let a partitioned node unseat a healthy master.
  return s.state === "leader" ? "i_am_leader" : "leader_alive";
}

/**
 * Refusals that end by themselves: the pre-vote is remembered and granted
 * the moment the refusal ends (see grantDeferredPreVotes).
 */
const DEFERRED_REASONS: ReadonlySet<string> = new Set([
  "leader_alive",
  "restart_embargo",
  "own_campaign_first",
]);

/**
 * We rank above `candidate` (by what it advertised), may campaign, and our
 * own election timer fires within Δ: its pre-vote waits for our campaign,
 * which makes it step aside. Without this, a candidate whose timer fired a
 * little early (the dead master's last heartbeat missed it) gathers our
 * pre-vote the moment our lease refusal ends, just before we campaign.
 * Timing only: our pre-vote request reaches it either way.
 */
function ownCampaignFirst(s: CoreState, candidate: string): boolean {
  if (s.state !== "follower" || !selfEligible(s) || inRestartEmbargo(s)) {
    return false;
  }
  const peer = s.peerById.get(candidate);
  if (peer === undefined || peer.priority === null) return false;
  const self = { id: s.self.id, priority: s.opts.priority };
  if (compareRank(self, { id: candidate, priority: peer.priority }) >= 0) {
    return false;
  }
  return campaignDueMs(s) - s.nowMs <= s.opts.rankDelayMs;
}

/** A peer asks whether we would vote for it at proposedTerm (changes nothing). */
export function onPreVoteRequest(
  s: CoreState,
  from: string,
  message: PreVoteRequestMessage,
): void {
  let reason = refusalReason(s, from, null);
  if (reason === null && message.proposedTerm <= s.term) reason = "stale_term";
  if (reason === null && ownCampaignFirst(s, from)) {
    reason = "own_campaign_first";
  }
  const granted = reason === null;
  if (reason !== null && DEFERRED_REASONS.has(reason)) {
    s.deferredPreVotes.set(from, {
      proposedTerm: message.proposedTerm,
      askedMs: s.nowMs,
    });
  } else {
    s.deferredPreVotes.delete(from);
  }
  if (granted && s.state === "pre_candidate" && outranks(s, from)) {
    // Two pre-candidates at once (say the dead master's last heartbeat
    // reached only one of them): the better-ranked one goes on alone, so
    // the real vote does not split.
    becomeFollower(s, s.term, null, `defer_to_${from}`);
  }
  if (granted && s.state === "follower" && outranks(s, from) && !s.holdUsed) {
    // Our own timer may fire any moment (clock drift eats into Δ): give the
    // better candidate time for its round trips before we compete.
    s.holdUsed = true;
    s.holdCampaignUntilMs = s.nowMs + s.opts.electionTimeoutMs / 4;
  }
  log(
    s,
    granted ? "info" : "debug",
    granted ? "pre_vote_granted" : "pre_vote_refused",
    {
      candidate: from,
      proposedTerm: message.proposedTerm,
      reason: reason ?? "ok",
    },
  );
  send(s, from, {
    type: "pre_vote_response",
    term: s.term,
    proposedTerm: message.proposedTerm,
    granted,
    reason: reason ?? "ok",
    campaigning: s.state === "pre_candidate" || s.state === "candidate",
  });
}

/** A peer asks for our vote at message.term. */
export function onVoteRequest(
  s: CoreState,
  from: string,
  message: VoteRequestMessage,
): void {
  let reason = refusalReason(s, from, message.handover);
  // A refused request inside a lease or embargo must not bump our term:
  // adopting it would make us reject the healthy leader's heartbeats.
  if (reason === null && message.term > s.term) {
    becomeFollower(s, message.term, null, "vote_request");
  }
  if (reason === null && message.term < s.term) reason = "stale_term";
  if (reason === null && s.votedFor !== null && s.votedFor !== from) {
    reason = `already_voted_for_${s.votedFor}`;
  }
  const granted = reason === null;
  if (granted) {
    setTermAndVote(s, s.term, from);
    resetElectionTimer(s);
  }
  log(
    s,
    granted ? "info" : "debug",
    granted ? "vote_granted" : "vote_refused",
    {
      candidate: from,
      candidateTerm: message.term,
      reason: reason ?? "ok",
      handoverFrom: message.handover?.leaderId ?? null,
    },
  );
  send(s, from, {
    type: "vote_response",
    term: s.term,
    granted,
    reason: reason ?? "ok",
  });
}

/** Counts a pre-vote answer; a majority starts the real election. */
export function onPreVoteResponse(
  s: CoreState,
  from: string,
  message: PreVoteResponseMessage,
): void {
  if (message.term > s.term && !message.granted) {
    // Refused inside a lease: a newer leader existed; keep the timer, so we
    // ask again at once with the newer term (granted when its lease ends).
    // Any other refusal means a newer campaign is under way: let it finish.
    const leaseOnly = message.reason === "leader_alive";
    becomeFollower(s, message.term, null, "higher_term_pre_vote", leaseOnly);
    return;
  }
  if (s.state !== "pre_candidate" || message.proposedTerm !== s.term + 1) {
    return;
  }
  if (message.campaigning && outranks(s, from)) {
    // A better-ranked node is campaigning too: step aside so the real vote
    // does not split.
    becomeFollower(s, s.term, null, `defer_to_${from}`);
    return;
  }
  if (!message.granted) {
    if (isFinalRefusal(message.reason)) noteFinalRefusal(s, from);
    return;
  }
  s.votes.add(from);
  if (s.votes.size < s.quorum) return;
  if (!selfEligible(s) || inRestartEmbargo(s) || inLease(s)) {
    becomeFollower(s, s.term, null, "no_longer_eligible");
    return;
  }
  becomeCandidate(s, null);
}

/** Counts a vote; a majority makes us leader. */
export function onVoteResponse(
  s: CoreState,
  from: string,
  message: VoteResponseMessage,
): void {
  if (message.term > s.term) {
    becomeFollower(s, message.term, null, "higher_term_vote");
    return;
  }
  if (s.state !== "candidate" || message.term !== s.term) return;
  if (!message.granted) {
    if (isFinalRefusal(message.reason)) noteFinalRefusal(s, from);
    return;
  }
  s.votes.add(from);
  if (s.votes.size >= s.quorum) becomeLeader(s);
}

/** Refusals that re-asking cannot change within this campaign. */
function isFinalRefusal(reason: string): boolean {
  return !DEFERRED_REASONS.has(reason) && reason !== "i_am_leader";
}

/**
 * Records a final refusal; when a majority can no longer be reached (a split
 * vote) the campaign ends now instead of after E.
 */
function noteFinalRefusal(s: CoreState, from: string): void {
  s.refused.add(from);
  // Peers we are not connected to will not answer in time either.
  let open = 0;
  for (const peer of s.peers) {
    const id = peer.member.id;
    if (peer.connected && !s.votes.has(id) && !s.refused.has(id)) open++;
  }
  if (s.votes.size + open >= s.quorum) return;
  becomeFollower(s, s.term, null, "split_vote");
  // The refusal windows are over (we had the pre-votes): retry in rank
  // order right away instead of after another E.
  s.timerStartMs = s.nowMs - s.opts.electionTimeoutMs;
}

/** The master we follow handed over to us: campaign at once, no pre-vote, no delay. */
export function onTimeoutNow(
  s: CoreState,
  from: string,
  message: TimeoutNowMessage,
): void {
  const fromOurLeader = from === s.leaderHeardId &&
    message.term === s.leaderHeardTerm && message.term === s.term;
  let reason: string | null = null;
  if (message.term < s.term) reason = "stale_term";
  else if (!fromOurLeader) reason = "not_from_our_leader";
  else if (s.state === "leader") reason = "i_am_leader";
  else if (!selfEligible(s)) reason = "ineligible";
  else if (inRestartEmbargo(s)) reason = "restart_embargo";
  if (reason !== null) {
    log(s, "info", "timeout_now_ignored", {
      from,
      reason,
      msgTerm: message.term,
    });
    return;
  }
  becomeCandidate(s, { leaderId: from, term: message.term });
}

/**
 * Grants pre-votes refused earlier only for a lease or the embargo, once
 * that refusal ended (requests older than E are dropped: their campaign is over).
 */
export function grantDeferredPreVotes(s: CoreState): void {
  for (const [candidate, ask] of s.deferredPreVotes) {
    if (s.nowMs - ask.askedMs >= s.opts.electionTimeoutMs) {
      s.deferredPreVotes.delete(candidate);
      continue;
    }
    if (refusalReason(s, candidate, null) !== null) continue;
    if (ownCampaignFirst(s, candidate)) continue;
    s.deferredPreVotes.delete(candidate);
    if (ask.proposedTerm <= s.term) continue;
    log(s, "info", "pre_vote_granted", {
      candidate,
      proposedTerm: ask.proposedTerm,
      reason: "refusal_ended",
    });
    send(s, candidate, {
      type: "pre_vote_response",
      term: s.term,
      proposedTerm: ask.proposedTerm,
      granted: true,
      reason: "ok",
      campaigning: s.state === "pre_candidate" || s.state === "candidate",
    });
  }
}

/** When a deferred pre-vote may become grantable (refusal end), else +∞. */
export function deferredPreVoteWakeMs(s: CoreState): number {
  if (s.deferredPreVotes.size === 0) return Number.POSITIVE_INFINITY;
  const E = s.opts.electionTimeoutMs;
  let refusalEndMs = s.opts.startMs + E;
  if (s.leaderHeardMs !== null) {
    refusalEndMs = Math.max(refusalEndMs, s.leaderHeardMs + E);
  }
  if (refusalEndMs > s.nowMs) return refusalEndMs;
  // Still refused for another reason (we lead): wake when the oldest expires.
  let expiryMs = Number.POSITIVE_INFINITY;
  for (const ask of s.deferredPreVotes.values()) {
    expiryMs = Math.min(expiryMs, ask.askedMs + E);
  }
  return expiryMs;
}

/** Pre-vote/vote requests are re-sent this often to voters that have not granted. */
export function requestRetryMs(s: CoreState): number {
  return Math.max(s.opts.rankDelayMs, s.opts.heartbeatMs / 10);
}

/**
 * Timer work for non-leaders: a follower campaigns when its timer fires; a
 * campaign re-asks silent voters (their lease window may end a little later
 * than ours) and gives up after E.
 */
export function tickCampaign(s: CoreState): void {
  if (s.state === "follower") {
    if (s.paused) return;
    if (!selfEligible(s) || s.nowMs < campaignDueMs(s)) return;
    if (inLease(s)) return;
    becomePreCandidate(
      s,
      s.leaderHeardId === null ? "no_leader" : "leader_silent",
    );
    return;
  }
  if (s.state !== "pre_candidate" && s.state !== "candidate") return;
  if (
    !selfEligible(s) || s.nowMs - s.campaignStartMs >= s.opts.electionTimeoutMs
  ) {
    becomeFollower(
      s,
      s.term,
      null,
      selfEligible(s) ? "campaign_timeout" : "ineligible",
    );
    return;
  }
  if (s.nowMs - s.lastRequestMs < requestRetryMs(s)) return;
  s.lastRequestMs = s.nowMs;
  for (const peer of s.peers) {
    if (s.votes.has(peer.member.id) || s.refused.has(peer.member.id)) continue;
    send(
      s,
      peer.member.id,
      s.state === "pre_candidate"
        ? { type: "pre_vote_request", term: s.term, proposedTerm: s.term + 1 }
        : { type: "vote_request", term: s.term, handover: s.handoverClaim },
    );
  }
}

/** Next time campaign work is due. */
export function campaignWakeMs(s: CoreState): number {
  if (s.state === "follower") {
    return selfEligible(s) && !s.paused
      ? campaignDueMs(s)
      : Number.POSITIVE_INFINITY;
  }
  if (s.state === "leader") return Number.POSITIVE_INFINITY;
  return Math.min(
    s.lastRequestMs + requestRetryMs(s),
    s.campaignStartMs + s.opts.electionTimeoutMs,
  );
}
