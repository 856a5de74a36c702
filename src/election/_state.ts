/**
 * The mutable state of one election core and the small helpers every step
 * function shares: emitting effects, changing the durable term/vote (always
 * with a persist effect first), eligibility, liveness and ranking views.
 * Private to src/election/. Never reads a clock: time is `s.nowMs`, set by
 * Election.step from the input.
 */

import { assert } from "./assert.ts";
import { Lease, stepDownMarginMs } from "./lease.ts";
import { type HandoverClaim, type Message, TERM_MAX } from "./message.ts";
import { Prng } from "./prng.ts";
import { quorumSize } from "./quorum.ts";
import { compareRank, rankOf } from "./rank.ts";
import type {
  DemoteReason,
  Effect,
  ElectionOptions,
  ElectionState,
  LogValue,
  Member,
  PromoteReason,
} from "./types.ts";

/** What this node knows about one peer. */
export interface PeerView {
  member: Member;
  connected: boolean;
  lastHeardMs: number | null;
  eligible: boolean | null;
  /** Highest term (≤ TERM_MAX) this peer has sent as its own. */
  reportedTerm: number;
  /** Messages refused for their term (see _term_guard.ts), for bounded logs. */
  termRefusals: { notWarned: number; loggedMs: number | null };
  /** As the peer last advertised it; null when not heard yet. */
  priority: number | null;
}

/** A planned handover in progress (master stopped renewing). */
export interface Handover {
  term: number;
  /** Null only for a shutdown with nobody to hand over to. */
  target: string | null;
  requestId: string | null;
  reason: DemoteReason | "pre_promote_veto";
  /**
   * Handover wait (handoverDrainMs): until then the master still renews its
   * lease and holds its drivers but no longer reports itself master; then it
   * demotes. Null once the demote has started (or with no wait).
   */
  demoteAtMs: number | null;
}

/** Everything the core remembers between steps. */
export interface CoreState {
  readonly opts: ElectionOptions;
  readonly self: Member;
  /** Peers (self excluded) in sorted id order, so effects never depend on arrival order. */
  readonly peers: PeerView[];
  readonly peerById: Map<string, PeerView>;
  readonly quorum: number;
  /** A leader steps down when its lease has less than this left (lease.ts). */
  readonly stepDownMarginMs: number;
  /**
   * Our own loop stalled while leading: the margin is not applied until a
   * renewal gives the lease more than the margin again (or it ends).
   */
  marginSuspended: boolean;
  readonly prng: Prng;
  out: Effect[];
  /** Term/vote changed this step and not yet handed out as a persist effect. */
  persistPending: boolean;
  nowMs: number;
  lastStepMs: number | null;
  state: ElectionState;
  term: number;
  votedFor: string | null;
  /** Leader of the current term, when known. */
  leaderId: string | null;
  /** Last accepted heartbeat from any leader (any term): drives the vote refusal. */
  leaderHeardMs: number | null;
  leaderHeardId: string | null;
  leaderHeardTerm: number;
  leaderIsMaster: boolean;
  /** Election timer: campaign at timerStartMs + E + rank·Δ + jitterMs. */
  timerStartMs: number;
  jitterMs: number;
  /**
   * We granted a pre-vote to a better-ranked candidate: hold our own
   * campaign until then (at most once per timer period, so a candidate that
   * cannot hear answers never silences the rest).
   */
  holdCampaignUntilMs: number;
  holdUsed: boolean;
  lastGossipMs: number | null;
  // Campaign (pre_candidate / candidate).
  votes: Set<string>;
  /**
   * Pre-votes we refused only because of a lease or the embargo, by
   * candidate: proposedTerm and when asked. Granted the moment the refusal
   * ends, so the best-ranked candidate wins before the next one's timer fires.
   */
  deferredPreVotes: Map<string, { proposedTerm: number; askedMs: number }>;
  /** Voters that refused for good this campaign (voted for another, stale term). */
  refused: Set<string>;
  campaignStartMs: number;
  lastRequestMs: number;
  handoverClaim: HandoverClaim | null;
  /** Why the current leader term will promote: a TimeoutNow made it `handover`. */
  promoteReason: PromoteReason;
  // Leader.
  lease: Lease | null;
  leaderSinceMs: number;
  nextRenewMs: number;
  promoted: boolean;
  masterSinceMs: number | null;
  prePromotePending: boolean;
  prePromoteApproved: boolean;
  handover: Handover | null;
  preemptSinceMs: number | null;
  // Eligibility.
  healthy: boolean;
  drained: boolean;
  shuttingDown: boolean;
  vetoUntilMs: number;
  /** The shell's start demote has not finished yet (startDemote option). */
  startDemotePending: boolean;
  /** Maintenance (see _pause.ts): no automatic campaign, handover or preemption. */
  paused: boolean;
}

/** Builds the initial state from validated options. */
export function createState(opts: ElectionOptions): CoreState {
  const self = opts.members.find((member) => member.id === opts.selfId);
  assert(self !== undefined, `selfId "${opts.selfId}" is not a member`);
  const peers = opts.members
    .filter((member) => member.id !== opts.selfId)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((member) => ({
      member,
      connected: false,
      lastHeardMs: null,
      eligible: null,
      reportedTerm: 0,
      termRefusals: { notWarned: 0, loggedMs: null },
      priority: null,
    }));
  const prng = new Prng(opts.seed);
  assert(
    (opts.persisted?.term ?? 0) <= TERM_MAX,
    `persisted term ${opts.persisted?.term} is above TERM_MAX`,
  );
  return {
    opts,
    self,
    peers,
    peerById: new Map(peers.map((peer) => [peer.member.id, peer])),
    quorum: quorumSize(opts.members.length, opts.twoNode),
    stepDownMarginMs: opts.mutation === "no_step_down_margin"
      ? 0
      : stepDownMarginMs(opts.heartbeatMs, opts.leaseMs),
    marginSuspended: false,
    prng,
    out: [],
    persistPending: false,
    nowMs: opts.startMs,
    lastStepMs: null,
    state: "follower",
    term: opts.persisted?.term ?? 0,
    votedFor: opts.persisted?.votedFor ?? null,
    leaderId: null,
    leaderHeardMs: null,
    leaderHeardId: null,
    leaderHeardTerm: 0,
    leaderIsMaster: false,
    timerStartMs: opts.startMs,
    jitterMs: drawJitter(prng, opts.rankDelayMs),
    holdCampaignUntilMs: Number.NEGATIVE_INFINITY,
    holdUsed: false,
    lastGossipMs: null,
    votes: new Set(),
    refused: new Set(),
    deferredPreVotes: new Map(),
    campaignStartMs: opts.startMs,
    lastRequestMs: opts.startMs,
    handoverClaim: null,
    promoteReason: "elected",
    lease: null,
    leaderSinceMs: opts.startMs,
    nextRenewMs: opts.startMs,
    promoted: false,
    masterSinceMs: null,
    prePromotePending: false,
    prePromoteApproved: false,
    handover: null,
    preemptSinceMs: null,
    healthy: true,
    drained: false,
    shuttingDown: false,
    vetoUntilMs: Number.NEGATIVE_INFINITY,
    startDemotePending: opts.startDemote === true,
    paused: false,
  };
}

/** Campaign jitter in [0, Δ/2): separates equal ranks without reordering ranks. */
export function drawJitter(prng: Prng, rankDelayMs: number): number {
  return prng.nextFloat() * (rankDelayMs / 2);
}

/** Appends a structured decision log line. */
export function log(
  s: CoreState,
  level: "debug" | "info" | "warn",
  event: string,
  fields: Record<string, LogValue> = {},
): void {
  s.out.push({
    kind: "log",
    level,
    event,
    fields: { term: s.term, ...fields },
  });
}

/** Appends a send effect, after the persist of any term/vote change. */
export function send(s: CoreState, to: string, message: Message): void {
  flushPersist(s);
  s.out.push({ kind: "send", to, message });
}

/**
 * Emits the pending persist effect. Called before every send and at the end
 * of every step, so one step writes state_dir at most once per change burst
 * and a vote on the wire is always on disk first.
 */
export function flushPersist(s: CoreState): void {
  if (!s.persistPending) return;
  s.persistPending = false;
  s.out.push({ kind: "persist", term: s.term, votedFor: s.votedFor });
}

/** Sends to every peer in sorted id order. */
export function broadcast(s: CoreState, message: Message): void {
  for (const peer of s.peers) send(s, peer.member.id, message);
}

/**
 * Changes the durable term/vote. The persist effect goes out before anything
 * sent later (see flushPersist), so a vote on the wire is always on disk.
 */
export function setTermAndVote(
  s: CoreState,
  term: number,
  votedFor: string | null,
): void {
  assert(term >= s.term, `term went back from ${s.term} to ${term}`);
  assert(
    term > s.term || s.votedFor === null || s.votedFor === votedFor,
    `second vote in term ${term}: ${s.votedFor} then ${votedFor}`,
  );
  if (term === s.term && votedFor === s.votedFor) return;
  s.term = term;
  s.votedFor = votedFor;
  s.persistPending = true;
}

/** We are a voter with priority > 0 (from our own config: never changes). */
export function selfCanLead(s: CoreState): boolean {
  return s.self.role === "voter" && s.opts.priority > 0;
}

/**
 * A peer that is a voter and advertised a priority > 0. A peer not heard yet
 * is not counted: its priority is its own, unknown until it says so.
 */
export function peerCanLead(peer: PeerView): boolean {
  return peer.member.role === "voter" && peer.priority !== null &&
    peer.priority > 0;
}

/**
 * True while this node may become (or stay) master. At TERM_MAX it may not:
 * a campaign would need a term above the ceiling.
 */
export function selfEligible(s: CoreState): boolean {
  return selfCanLead(s) && s.healthy && !s.drained && !s.shuttingDown &&
    !s.startDemotePending && s.nowMs >= s.vetoUntilMs && s.term < TERM_MAX;
}

/** No vote (our own included) before E has passed since the process started. */
export function inRestartEmbargo(s: CoreState): boolean {
  return s.nowMs < s.opts.startMs + s.opts.electionTimeoutMs;
}

/** Connected and heard from within E. */
export function peerAlive(s: CoreState, peer: PeerView): boolean {
  return peer.connected && peer.lastHeardMs !== null &&
    s.nowMs - peer.lastHeardMs < s.opts.electionTimeoutMs;
}

/** Leader heard within E, or we are the leader: votes for others are refused. */
export function inLease(s: CoreState): boolean {
  if (s.state === "leader") return true;
  return s.leaderHeardMs !== null &&
    s.nowMs - s.leaderHeardMs < s.opts.electionTimeoutMs;
}

/**
 * Our campaign rank: eligible nodes seen alive, the leader we last followed
 * excluded (it is the one presumed failed), by priority desc then id asc.
 */
export function selfRank(s: CoreState): number {
  const entries = [{ id: s.self.id, priority: s.opts.priority }];
  for (const peer of s.peers) {
    if (peer.priority === null || !peerCanLead(peer)) continue;
    if (peer.eligible === false) continue;
    if (peer.member.id === s.leaderHeardId || !peerAlive(s, peer)) continue;
    entries.push({ id: peer.member.id, priority: peer.priority });
  }
  return rankOf(s.self.id, entries);
}

/** When the follower election timer fires (absolute, own clock). */
export function campaignDueMs(s: CoreState): number {
  const { electionTimeoutMs, rankDelayMs } = s.opts;
  const due = s.timerStartMs + electionTimeoutMs + selfRank(s) * rankDelayMs +
    s.jitterMs;
  return Math.max(
    due,
    s.opts.startMs + electionTimeoutMs,
    s.holdCampaignUntilMs,
  );
}

/** Restarts the election timer from now with fresh jitter. */
export function resetElectionTimer(s: CoreState): void {
  s.timerStartMs = s.nowMs;
  s.jitterMs = drawJitter(s.prng, s.opts.rankDelayMs);
  s.holdUsed = false;
}

/** True when `peerId` ranks above us by (advertised priority desc, id asc). */
export function outranks(s: CoreState, peerId: string): boolean {
  const peer = s.peerById.get(peerId);
  if (peer === undefined || peer.priority === null) return false;
  return compareRank(
    { id: peerId, priority: peer.priority },
    { id: s.self.id, priority: s.opts.priority },
  ) < 0;
}

/** A fresh lease tracker for a new leader term. */
export function newLease(s: CoreState): Lease {
  return new Lease(s.quorum, s.opts.leaseMs);
}

/** Best eligible live peer for a handover (priority desc, id asc), if any. */
export function bestHandoverTarget(s: CoreState): string | null {
  let best: { id: string; priority: number } | null = null;
  for (const peer of s.peers) {
    if (!peerCanLead(peer) || peer.eligible !== true) continue;
    if (!peerAlive(s, peer) || peer.priority === null) continue;
    if (best === null || peer.priority > best.priority) {
      best = { id: peer.member.id, priority: peer.priority };
    }
  }
  return best?.id ?? null;
}
