/**
 * The election on etcd as a pure state machine: inputs carry monotonic time
 * and etcd's answers; effects are etcd requests, promote/demote, replies and
 * log lines. No I/O, clock or timer inside (the shell is
 * src/backend/etcd_backend.ts).
 *
 * Why two masters cannot coexist: the master key is created only if absent
 * and is bound to the creator's etcd lease, so etcd holds at most one, and
 * it lives no longer than that lease. A keepalive sent at t_s and answered
 * with TTL T keeps the lease alive on etcd until at least t_s + T (etcd
 * counts from when it receives the renewal, which is later). The holder acts
 * as master only until t_s + T/(1+ρ)² − M on its own monotonic clock (ρ = 1%
 * clock-rate drift, as the mesh lease; M = T/4), so it has stopped, with M
 * to spare for its demote drivers, before etcd could delete the key and let
 * another node create it. A master that cannot renew therefore demotes by
 * itself, whatever etcd or the network does. The key's create revision
 * grows with every new key, so it is the fencing token.
 *
 * Who campaigns first: when the key is gone, the eligible nodes publishing
 * records under the prefix rank themselves (priority desc, id asc) and the
 * k-th waits k·Δ; a handover key names the node that goes at once.
 */

import { assert } from "../election/assert.ts";
import { compareRank, type RankEntry } from "../election/rank.ts";
import type { PublicRole } from "../election/types.ts";
import {
  leaveWakeMs,
  maybeLeave,
  onCommand,
  onDemoteDone,
  onPrePromoteResult,
  onResigned,
} from "./_handover.ts";
import {
  becomeFollower,
  createState,
  dropLease,
  eligible,
  type EtcdState,
  isMaster,
  log,
  masterUntilMs,
  promote,
  request,
} from "./_state.ts";
import { buildStatus } from "./_status.ts";
import { applyChange, emptyView } from "./_view.ts";
import type {
  EtcdEffect,
  EtcdElectionOptions,
  EtcdElectionStatus,
  EtcdInput,
  MasterKey,
  MemberRecord,
} from "./types.ts";

export { CLOCK_DRIFT_RHO, RENEWS_PER_TTL } from "./_lease.ts";
export { DEMOTE_MARGIN_SHARE } from "./_state.ts";

/** One node's election on etcd. */
export class EtcdElection {
  readonly #s: EtcdState;

  /** Validates the timing (assert) and starts as a follower with no lease. */
  constructor(options: EtcdElectionOptions) {
    assert(options.rankDelayMs >= 0, "Δ ≥ 0 required");
    this.#s = createState(options);
  }

  /** Feeds one input; returns the effects to carry out, in order. */
  step(input: EtcdInput): EtcdEffect[] {
    const s = this.#s;
    assert(input.nowMs >= s.nowMs, "time went backwards");
    s.out = [];
    s.nowMs = input.nowMs;
    if (!s.started && s.o.startDemote !== true) {
      // Start in a known state: drivers let go of what a previous run held.
      s.out.push({ kind: "demote", term: 0, reason: "start", handover: false });
    }
    s.started = true;
    // Lease first: a master resuming from a pause demotes before anything.
    checkLease(s);
    dispatch(s, input);
    checkLease(s);
    const due = s.shuttingDown && s.leaving === null
      ? null
      : s.lease.due(s.nowMs);
    if (due !== null) request(s, due);
    maybeLeave(s);
    maybeCampaign(s);
    publishIfChanged(s);
    return s.out;
  }

  /** True while this node may act as master. */
  isMaster(nowMs: number): boolean {
    return isMaster(this.#s, nowMs);
  }

  /** Absolute monotonic time the core next needs a tick. */
  nextWakeMs(): number {
    const s = this.#s;
    let wake = Math.min(campaignAtMs(s), s.lease.nextWakeMs());
    if (s.state === "leader") {
      wake = Math.min(wake, masterUntilMs(s), leaveWakeMs(s));
    }
    if (s.view.handover !== null && s.handoverSeenMs > 0) {
      wake = Math.min(wake, s.handoverSeenMs + s.o.ttlMs);
    }
    return Math.max(wake, s.nowMs);
  }

  /** Immutable snapshot for probes, the CLI and the member record. */
  status(nowMs: number): EtcdElectionStatus {
    return statusOf(this.#s, nowMs);
  }
}

function dispatch(s: EtcdState, input: EtcdInput): void {
  switch (input.kind) {
    case "tick":
      return;
    case "check":
      if (input.healthy !== s.healthy) {
        s.healthy = input.healthy;
        log(s, "info", "check", { healthy: input.healthy });
      }
      return;
    case "command":
      return onCommand(s, input.requestId, input.command);
    case "demote_done":
      return onDemoteDone(s, input.term);
    case "start_demote_done":
      s.startDemoted = true;
      return;

    case "pre_promote_result":
      return onPrePromoteResult(s, input.term, input.ok);
    case "snapshot": {
      if (input.revision < s.view.revision) return;
      const view = emptyView();
      for (const change of input.changes) applyChange(view, change, 0);
      view.synced = true;
      view.revision = input.revision;
      s.view = view;
      return afterView(s);
    }
    case "changes": {
      // One transaction's changes share a revision: compare with the
      // revision held before this batch.
      const since = s.view.revision;
      for (const change of input.changes) {
        if (!applyChange(s.view, change, since)) continue;
        s.view.revision = Math.max(s.view.revision, change.modRevision);
      }
      return afterView(s);
    }
    case "granted":
      if (!s.lease.granted(s.nowMs, input.leaseId, input.ttlSec)) {
        return request(s, { kind: "revoke", leaseId: input.leaseId });
      }
      s.published = "";
      log(s, "debug", "lease_granted", { lease: input.leaseId });
      return;
    case "grant_failed":
      s.lease.grantFailed(s.nowMs);
      log(s, "warn", "lease_grant_failed", { error: input.error });
      return;
    case "renewed":
      if (s.lease.renewed(input.leaseId, input.ttlSec) === "gone") {
        log(s, "warn", "lease_gone", { lease: input.leaseId });
        if (s.state === "leader") becomeFollower(s, "lease_expired");
      }
      return;
    case "renew_failed":
      s.lease.renewFailed(input.leaseId);
      log(s, "warn", "lease_renew_failed", { error: input.error });
      return;
    case "campaigned":
      return onCampaigned(s, input);
    case "campaign_failed":
      if (s.state === "candidate") s.state = "follower";
      s.holdUntilMs = s.nowMs + s.lease.renewEveryMs;
      log(s, "warn", "campaign_failed", { error: input.error });
      s.campaignUnknown = true;
      // The watch may already show that the transaction went through.
      return afterView(s);
    case "resigned":
      return onResigned(s, input.ok, input.error);
  }
}

/** Reacts to the master key as the view now shows it. */
function afterView(s: EtcdState): void {
  const master = s.view.master;
  if (master === null) {
    if (s.state === "leader" && s.leaving === null) {
      // Our key vanished (lease expired on etcd, or an operator deleted
      // it): another node may create it now.
      becomeFollower(s, "lease_expired");
      dropLease(s);
    }
    return;
  }
  s.masterGoneMs = null;
  s.term = Math.max(s.term, master.createRevision);
  const self = master.holder === s.o.selfId;
  if (!self) s.campaignUnknown = false;
  const ours = master.lease === s.lease.id;
  if (self && !ours && s.state !== "leader") {
    // A previous run of this node held it. That run is over (we demoted at
    // start), so let the others have it now rather than at its TTL.
    log(s, "info", "stale_master_key", { lease: master.lease });
    request(s, { kind: "revoke", leaseId: master.lease });
  } else if (s.state === "leader" && (!self || !ours)) {
    becomeFollower(s, "higher_term");
  } else if (self && ours && s.state === "follower" && s.campaignUnknown) {
    // Our campaign won but its answer was lost (a timeout): the key under
    // our lease says so, and nobody else can hold it while it exists.
    s.campaignUnknown = false;
    log(s, "info", "campaign_won_late", { term: master.createRevision });
    becomeLeader(s, master);
  }
}

function onCampaigned(
  s: EtcdState,
  input: Extract<EtcdInput, { kind: "campaigned" }>,
): void {
  if (s.state !== "candidate") return;
  s.state = "follower";
  const master = input.master;
  if (master !== null && master.createRevision >= s.view.revision) {
    s.view.master = master;
    s.view.revision = master.createRevision;
    s.masterGoneMs = null;
    s.term = Math.max(s.term, master.createRevision);
  }
  if (
    !input.won || master === null || master.lease !== input.leaseId ||
    s.lease.id !== input.leaseId
  ) {
    log(s, "info", "campaign_lost", { master: master?.holder ?? null });
    return;
  }
  becomeLeader(s, master);
}

/** We hold the master key: promote (after pre_promote, when configured). */
function becomeLeader(s: EtcdState, master: MasterKey): void {
  s.state = "leader";
  s.term = master.createRevision;
  s.promoteReason = s.view.handover?.to === s.o.selfId ? "handover" : "elected";
  s.view.handover = null;
  if (s.o.prePromote !== true) return promote(s);
  s.prePromotePending = true;
  log(s, "info", "pre_promote", { term: s.term });
  s.out.push({ kind: "pre_promote", term: s.term });
}

/** Demotes when the margin or the lease ran out; drops a dead lease. */
function checkLease(s: EtcdState): void {
  if (s.lease.id === null) return;
  const leader = s.state === "leader" && s.leaving === null;
  if (leader && s.nowMs >= masterUntilMs(s)) {
    // Our own deadline: we stop now, before etcd could let anyone else have
    // the key; giving the lease up lets them have it sooner. Found past the
    // lease's very end, we were not running (SIGSTOP, a frozen VM).
    const overslept = s.nowMs >= s.lease.untilMs;
    becomeFollower(s, overslept ? "lease_expired" : "quorum_lost");
    dropLease(s);
  } else if (s.nowMs >= s.lease.untilMs) {
    log(s, "warn", "lease_lost", { lease: s.lease.id });
    dropLease(s);
  }
}

/** When this node campaigns next, or Infinity when it should not. */
function campaignAtMs(s: EtcdState): number {
  const view = s.view;
  if (s.state !== "follower" || !view.synced || view.master !== null) {
    return Infinity;
  }
  if (!eligible(s) || !s.startDemoted || s.nowMs >= masterUntilMs(s)) {
    return Infinity;
  }
  const handover = view.handover;
  if (handover?.to === s.o.selfId) return s.nowMs;
  if (view.paused || s.masterGoneMs === null) return Infinity;
  // Everyone else gives a named target one TTL to take the key.
  // A handover without a target (a shutdown with nobody eligible) asks for
  // no wait.
  const handoverEndMs = handover === null || handover.to === null
    ? 0
    : s.handoverSeenMs + s.o.ttlMs;
  const entries: RankEntry[] = [...view.members.values()].filter((m) =>
    m.eligible && m.id !== s.o.selfId && m.id !== handover?.from
  );
  entries.push({ id: s.o.selfId, priority: s.o.priority });
  const rank = entries.sort(compareRank).findIndex((entry) =>
    entry.id === s.o.selfId
  );
  const fromMs = Math.max(s.masterGoneMs, handoverEndMs, s.holdUntilMs);
  return fromMs + rank * s.o.rankDelayMs;
}

function maybeCampaign(s: EtcdState): void {
  const view = s.view;
  if (view.handover === null) s.handoverSeenMs = 0;
  else if (s.handoverSeenMs === 0) s.handoverSeenMs = s.nowMs;
  // Paused: nothing counts toward a failover until resumed, and then the
  // ranking starts afresh.
  if (view.paused) s.masterGoneMs = null;
  else if (view.master === null) s.masterGoneMs ??= s.nowMs;
  const leaseId = s.lease.id;
  if (leaseId === null || s.nowMs < campaignAtMs(s)) return;
  s.state = "candidate";
  log(s, "info", "campaign", { revision: view.revision });
  request(s, { kind: "campaign", leaseId, value: s.o.selfId });
}

function publishIfChanged(s: EtcdState): void {
  const leaseId = s.lease.id;
  if (leaseId === null || s.shuttingDown) return;
  const status = statusOf(s, s.nowMs);
  const record: MemberRecord = {
    id: s.o.selfId,
    role: s.o.role,
    priority: s.o.priority,
    eligible: eligible(s),
    state: status.role,
    master: status.masterId,
    term: s.term,
  };
  const text = JSON.stringify(record);
  if (text === s.published) return;
  s.published = text;
  request(s, { kind: "publish", leaseId, record });
}

function publicRole(s: EtcdState, nowMs: number): PublicRole {
  if (isMaster(s, nowMs)) return "master";
  if (s.state === "candidate") return "candidate";
  return s.o.role === "witness" ? "witness" : "backup";
}

function statusOf(s: EtcdState, nowMs: number): EtcdElectionStatus {
  return buildStatus({
    selfId: s.o.selfId,
    role: s.o.role,
    priority: s.o.priority,
    state: s.state,
    publicRole: publicRole(s, nowMs),
    master: isMaster(s, nowMs),
    term: s.term,
    nowMs,
    masterUntilMs: masterUntilMs(s),
    masterSinceMs: s.masterSinceMs,
    leaseValid: nowMs < s.lease.untilMs,
    leaseId: s.lease.id,
    eligible: eligible(s),
    drained: s.drained,
    view: s.view,
  });
}
