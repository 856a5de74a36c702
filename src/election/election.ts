/**
 * The election core: Raft's leader election without a log, as a pure state
 * machine (etcd-io/raft's Step in, effects out). The shell feeds inputs that
 * carry monotonic time and carries out the returned effects in order; the
 * core never reads a clock, sleeps, does I/O or draws unseeded randomness.
 *
 * Why two masters cannot coexist: a leader acts as master only while its
 * lease holds (round r sent at t_s, acked by a majority, valid until t_s + L
 * on its clock). Every voter that acked refuses (pre-)votes for E after it
 * heard the round, and a restarted node refuses all votes for E. A new
 * leader needs a majority, which shares a node with the old lease majority,
 * so it cannot be elected before that node's refusal ends, which is after
 * the old lease ended as long as L < E/(1+ρ)² for clock-rate drift ρ.
 */

import { assert } from "./assert.ts";
import {
  type HeartbeatMessage,
  type Message,
  PRIORITY_MAX,
  type StateMessage,
} from "./message.ts";
import {
  checkLease,
  demoteAfterWait,
  isMaster,
  leaderWakeMs,
  maybeVoluntaryHandover,
  onDemoteDone,
  onHeartbeatAck,
  onPrePromoteResult,
  renewIfDue,
} from "./_leader.ts";
import { onCommand } from "./_command.ts";
import { onPause } from "./_pause.ts";
import { admitTerms } from "./_term_guard.ts";
import {
  broadcast,
  type CoreState,
  createState,
  flushPersist,
  log,
  resetElectionTimer,
  selfEligible,
  send,
} from "./_state.ts";
import { becomeFollower } from "./_transitions.ts";
import {
  campaignWakeMs,
  deferredPreVoteWakeMs,
  grantDeferredPreVotes,
  onPreVoteRequest,
  onPreVoteResponse,
  onTimeoutNow,
  onVoteRequest,
  onVoteResponse,
  tickCampaign,
} from "./_vote.ts";
import type {
  Effect,
  ElectionOptions,
  ElectionStatus,
  Input,
  PublicRole,
} from "./types.ts";

/** Clock-rate drift the lease inequality is checked against (ρ = 1%). */
export const CLOCK_DRIFT_RHO = 0.01;

/** A gap between steps above this many heartbeats means our own loop stalled. */
export const STALL_HEARTBEATS = 2;
/** Gossip goes with any step this long (× h) after the last one... */
export const GOSSIP_EARLY_FRACTION = 0.75;
/** ...and the core asks to be woken for it only this long (× h) after. */
export const GOSSIP_LATE_FRACTION = 1.25;

/** The one mapping from Raft state to the public role. */
export function publicRole(s: CoreState, nowMs: number): PublicRole {
  if (isMaster(s, nowMs)) return "master";
  if (s.state !== "follower") return "candidate";
  return s.self.role === "witness" ? "witness" : "backup";
}

/** Throws (a configuration bug) unless the options keep the safety argument. */
export function assertSafeTiming(options: ElectionOptions): void {
  const { heartbeatMs, electionTimeoutMs, leaseMs, rankDelayMs } = options;
  assert(heartbeatMs > 0 && rankDelayMs >= 0, "h > 0 and Δ ≥ 0 required");
  assert(
    Number.isInteger(options.priority) && options.priority >= 0 &&
      options.priority <= PRIORITY_MAX,
    `priority ${options.priority} must be an integer from 0 to ${PRIORITY_MAX}`,
  );
  assert(
    leaseMs > 0 &&
      leaseMs < electionTimeoutMs / (1 + CLOCK_DRIFT_RHO) ** 2,
    `lease ${leaseMs} ms must be < E/(1+ρ)² = ${
      (electionTimeoutMs / (1 + CLOCK_DRIFT_RHO) ** 2).toFixed(1)
    } ms`,
  );
  assert(
    leaseMs >= heartbeatMs,
    "the lease must span at least two renewals (L ≥ h)",
  );
}

/** One node's election state machine. */
export class Election {
  readonly #s: CoreState;

  /** Validates timing (assert) and restores the persisted term/vote. */
  constructor(options: ElectionOptions) {
    assertSafeTiming(options);
    const ids = new Set(options.members.map((member) => member.id));
    assert(ids.size === options.members.length, "duplicate member ids");
    this.#s = createState(options);
  }

  /** Feeds one input; returns the effects to carry out, in order. */
  step(input: Input): Effect[] {
    const s = this.#s;
    assert(
      input.nowMs >= s.nowMs,
      `time went backwards: ${input.nowMs} < ${s.nowMs}`,
    );
    s.out = [];
    const previousMs = s.lastStepMs;
    s.nowMs = input.nowMs;
    s.lastStepMs = input.nowMs;
    const stallLimitMs = STALL_HEARTBEATS * s.opts.heartbeatMs;
    const stalled = previousMs !== null &&
      input.nowMs - previousMs > stallLimitMs;
    // Our own loop stalled, so the silence may be ours: a leader renews at
    // once and steps down only when its lease really ends, not at the
    // margin (a stalled process's demote is late by the stall anyway).
    if (stalled && s.state === "leader") s.marginSuspended = true;
    // Lease first: a master resuming from a pause must demote before it
    // sends or does anything else as master.
    checkLease(s);
    if (stalled && previousMs !== null) {
      // Blame ourselves, not the peers we did not hear from, and give the
      // leader a fresh E before campaigning.
      log(s, "warn", "stall", { gapMs: Math.round(input.nowMs - previousMs) });
      if (s.state !== "leader") resetElectionTimer(s);
    }
    this.#dispatch(input);
    renewIfDue(s);
    demoteAfterWait(s);
    maybeVoluntaryHandover(s);
    grantDeferredPreVotes(s);
    tickCampaign(s);
    gossipIfDue(s);
    flushPersist(s);
    return s.out;
  }

  #dispatch(input: Input): void {
    const s = this.#s;
    switch (input.kind) {
      case "tick":
        return;
      case "message":
        return onMessage(s, input.from, input.message);
      case "peer_up":
      case "peer_down":
        return onPeerLink(s, input.peer, input.kind === "peer_up");
      case "check":
        if (input.healthy !== s.healthy) {
          s.healthy = input.healthy;
          log(s, input.healthy ? "info" : "warn", "check", {
            healthy: input.healthy,
          });
          s.lastGossipMs = null;
        }
        return;
      case "command":
        return onCommand(s, input.requestId, input.command);
      case "demote_done":
        return onDemoteDone(s, input.term);
      case "start_demote_done":
        return onStartDemoteDone(s);
      case "pre_promote_result":
        return onPrePromoteResult(s, input.term, input.ok);
      case "pause":
        return onPause(s, input.paused);
    }
  }

  /** Immutable snapshot for probes and the CLI. */
  status(nowMs: number): ElectionStatus {
    const s = this.#s;
    const leaseValid = s.state === "leader" && s.lease !== null &&
      s.lease.validAt(nowMs);
    const master = isMaster(s, nowMs);
    const aliveAt = (lastHeardMs: number | null, connected: boolean) =>
      connected && lastHeardMs !== null &&
      nowMs - lastHeardMs < s.opts.electionTimeoutMs;
    const members = [
      {
        id: s.self.id,
        role: s.self.role,
        priority: s.opts.priority,
        alive: true,
        lastHeardMs: nowMs,
        eligible: selfEligible(s),
      },
      ...s.peers.map((peer) => ({
        id: peer.member.id,
        role: peer.member.role,
        priority: peer.priority,
        alive: aliveAt(peer.lastHeardMs, peer.connected),
        lastHeardMs: peer.lastHeardMs,
        eligible: peer.eligible,
      })),
    ];
    const followsMaster = s.leaderHeardId !== null &&
      s.leaderHeardId !== s.self.id && s.leaderIsMaster &&
      s.leaderHeardMs !== null &&
      nowMs - s.leaderHeardMs < s.opts.electionTimeoutMs;
    const aliveCount = members.filter((member) => member.alive).length;
    return {
      id: s.self.id,
      state: s.state,
      role: publicRole(s, nowMs),
      term: s.term,
      votedFor: s.votedFor,
      masterId: master ? s.self.id : followsMaster ? s.leaderHeardId : null,
      leaseValid,
      leaseRemainingMs: leaseValid && s.lease !== null
        ? s.lease.untilMs - nowMs
        : 0,
      quorum: s.state === "leader" ? leaseValid : aliveCount >= s.quorum,
      eligible: selfEligible(s),
      drained: s.drained,
      paused: s.paused,
      masterSinceMs: master ? s.masterSinceMs : null,
      members,
    };
  }

  /** Absolute monotonic time the core next needs a tick. */
  nextWakeMs(): number {
    const s = this.#s;
    let wake = Math.min(
      leaderWakeMs(s),
      campaignWakeMs(s),
      deferredPreVoteWakeMs(s),
    );
    if (gossips(s)) {
      wake = Math.min(
        wake,
        (s.lastGossipMs ?? s.nowMs) + GOSSIP_LATE_FRACTION * s.opts.heartbeatMs,
      );
    }
    if (s.vetoUntilMs > s.nowMs) wake = Math.min(wake, s.vetoUntilMs);
    return Math.max(wake, s.nowMs);
  }
}

function onMessage(s: CoreState, from: string, message: Message): void {
  const peer = s.peerById.get(from);
  if (peer === undefined) {
    log(s, "warn", "message_from_stranger", { from, type: message.type });
    return;
  }
  // Refused before it counts as hearing from the peer or touches our term.
  if (!admitTerms(s, peer, message)) return;
  peer.connected = true;
  peer.lastHeardMs = s.nowMs;
  if ("eligible" in message) peer.eligible = message.eligible;
  if ("priority" in message) peer.priority = message.priority;
  switch (message.type) {
    case "heartbeat":
      return onHeartbeat(s, from, message);
    case "heartbeat_ack":
      return onHeartbeatAck(s, from, message);
    case "state":
      return onState(s, from, message);
    case "pre_vote_request":
      return onPreVoteRequest(s, from, message);
    case "pre_vote_response":
      return onPreVoteResponse(s, from, message);
    case "vote_request":
      return onVoteRequest(s, from, message);
    case "vote_response":
      return onVoteResponse(s, from, message);
    case "timeout_now":
      return onTimeoutNow(s, from, message);
  }
}

/** A leader's lease round: follow it and ack, so it may stay master. */
function onHeartbeat(
  s: CoreState,
  from: string,
  message: HeartbeatMessage,
): void {
  const ack = { type: "heartbeat_ack", round: message.round } as const;
  if (message.term < s.term) {
    send(s, from, {
      ...ack,
      term: s.term,
      ok: false,
      eligible: selfEligible(s),
      priority: s.opts.priority,
    });
    return;
  }
  if (s.state === "leader" && message.term === s.term) {
    // Two leaders in one term: only possible with two_node (majority of 1).
    // Both step down; rank delays decide the next round.
    log(s, "warn", "leader_conflict", { other: from });
    becomeFollower(s, s.term, null, "leader_conflict");
    return;
  }
  if (message.term > s.term || s.state !== "follower" || s.leaderId !== from) {
    becomeFollower(s, message.term, from, "heartbeat");
  }
  // From now on we refuse votes for E: this ack may be what keeps the
  // leader's lease valid.
  s.leaderHeardMs = s.nowMs;
  s.leaderHeardId = from;
  s.leaderHeardTerm = message.term;
  s.leaderIsMaster = message.master;
  s.timerStartMs = s.nowMs;
  send(s, from, {
    ...ack,
    term: s.term,
    ok: true,
    eligible: selfEligible(s),
    priority: s.opts.priority,
  });
}

/** Gossip: liveness and eligibility only; never changes our term. */
function onState(s: CoreState, from: string, message: StateMessage): void {
  if (from === s.leaderHeardId && message.leaderId !== from) {
    // The leader we followed says it no longer leads (it stepped down or
    // handed over), so we stop reporting it as master.
    s.leaderIsMaster = false;
  }
}

/**
 * The shell's start demote finished (or timed out): every driver has been
 * told to let go of what a previous life of this node may have held, so the
 * node may become eligible now. Gossip at once so peers rank us.
 */
function onStartDemoteDone(s: CoreState): void {
  if (!s.startDemotePending) return;
  s.startDemotePending = false;
  s.lastGossipMs = null;
  log(s, "info", "start_demote_done", { eligible: selfEligible(s) });
}

function onPeerLink(s: CoreState, peerId: string, up: boolean): void {
  const peer = s.peerById.get(peerId);
  if (peer === undefined) return;
  peer.connected = up;
  log(s, "debug", up ? "peer_up" : "peer_down", { peer: peerId });
  // A new connection learns our term and eligibility at once.
  if (up && gossips(s)) send(s, peerId, stateMessage(s));
}

/** Leaders renewing their lease gossip through heartbeats instead. */
function gossips(s: CoreState): boolean {
  return s.state !== "leader" || s.handover !== null;
}

function stateMessage(s: CoreState): StateMessage {
  const follows = s.leaderHeardMs !== null &&
    s.nowMs - s.leaderHeardMs < s.opts.electionTimeoutMs;
  return {
    type: "state",
    term: s.term,
    eligible: selfEligible(s),
    priority: s.opts.priority,
    leaderId: follows ? s.leaderHeardId : null,
  };
}

/**
 * Gossip goes about once per heartbeat: with any step from 0.75 h after the
 * last one (a follower steps on every lease round, every h/2, so gossip rides
 * on a round it handles and its answer leaves with the ack), and from its own
 * wake-up only at 1.25 h, when nothing else woke the node. Peers count a node
 * alive for E ≥ 2h after they last heard it, so 1.25 h keeps it alive.
 */
function gossipIfDue(s: CoreState): void {
  if (!gossips(s)) return;
  if (
    s.lastGossipMs !== null &&
    s.nowMs - s.lastGossipMs < GOSSIP_EARLY_FRACTION * s.opts.heartbeatMs
  ) {
    return;
  }
  s.lastGossipMs = s.nowMs;
  broadcast(s, stateMessage(s));
}
