/**
 * The etcd election's state and the small rules every part of it shares:
 * mastership (leader, promoted, not leaving, inside lease minus margin),
 * eligibility, stepping down, dropping the lease, the handover target, and
 * the effect builders. Pure; the parts live in core.ts and _handover.ts.
 */

import { compareRank } from "../election/rank.ts";
import type { DemoteReason, PromoteReason } from "../election/types.ts";
import { LeaseKeeper } from "./_lease.ts";
import { emptyView, type View } from "./_view.ts";
import type { EtcdEffect, EtcdElectionOptions, EtcdRequest } from "./types.ts";

/** Share of the TTL a master stops early, for its demote drivers. */
export const DEMOTE_MARGIN_SHARE = 0.25;
/** A pre_promote veto keeps the node ineligible for this many TTLs. */
export const VETO_COOLDOWN_TTLS = 4;

/** A handover in progress: demote drivers first, then the resign. */
export interface Leaving {
  reason: string;
  to: string | null;
  requestId: string | null;
  term: number;
  demoted: boolean;
}

/** Everything the etcd election knows. */
export interface EtcdState {
  o: EtcdElectionOptions;
  marginMs: number;
  lease: LeaseKeeper;
  out: EtcdEffect[];
  nowMs: number;
  started: boolean;
  view: View;
  state: "follower" | "candidate" | "leader";
  /** The master key's create revision we know of (the fencing token). */
  term: number;
  promoted: boolean;
  masterSinceMs: number | null;
  /** When we learned the key is gone (ranking counts from here). */
  masterGoneMs: number | null;
  handoverSeenMs: number;
  /** No campaign before this (start, after our own resign). */
  holdUntilMs: number;
  leaving: Leaving | null;
  healthy: boolean;
  drained: boolean;
  shuttingDown: boolean;
  /** The member record last published, as JSON. */
  published: string;
  /** Won the key, waiting for the pre_promote hook's verdict. */
  prePromotePending: boolean;
  /** Why the current leadership began: a plain win or a handover to us. */
  promoteReason: PromoteReason;
  /** Ineligible until here after a pre_promote veto. */
  vetoUntilMs: number;
  /** Since when a better node is eligible (preempt), or null. */
  preemptSinceMs: number | null;
  /** The drivers finished the start demote: campaigning is allowed. */
  startDemoted: boolean;
  /** A campaign's answer was lost: it may have won (the watch will tell). */
  campaignUnknown: boolean;
}

/** A fresh follower without a lease. */
export function createState(o: EtcdElectionOptions): EtcdState {
  return {
    o,
    marginMs: o.ttlMs * DEMOTE_MARGIN_SHARE,
    lease: new LeaseKeeper(o.ttlMs),
    out: [],
    nowMs: o.startMs,
    started: false,
    view: emptyView(),
    state: "follower",
    term: 0,
    promoted: false,
    masterSinceMs: null,
    masterGoneMs: null,
    handoverSeenMs: 0,
    // At start, give every node half a TTL to publish its record, so the
    // first campaign already follows the ranking.
    holdUntilMs: o.startMs + o.ttlMs / 2,
    leaving: null,
    healthy: true,
    drained: false,
    shuttingDown: false,
    published: "",
    prePromotePending: false,
    promoteReason: "elected",
    vetoUntilMs: 0,
    preemptSinceMs: null,
    startDemoted: o.startDemote !== true,
    campaignUnknown: false,
  };
}

/** End of mastership on our clock: the lease minus the demote margin. */
export function masterUntilMs(s: EtcdState): number {
  return s.lease.untilMs - s.marginMs;
}

/** The one definition of "master": leader, promoted, not leaving, in time. */
export function isMaster(s: EtcdState, nowMs: number): boolean {
  return s.state === "leader" && s.promoted && s.leaving === null &&
    nowMs < masterUntilMs(s);
}

/** Whether this node may become master now (config, checks, drain). */
export function eligible(s: EtcdState): boolean {
  return s.o.role === "voter" && s.o.priority > 0 && s.healthy &&
    !s.drained && !s.shuttingDown && s.nowMs >= s.vetoUntilMs;
}

/** Queues an etcd request. */
export function request(s: EtcdState, req: EtcdRequest): void {
  s.out.push({ kind: "etcd", request: req });
}

/** Queues the one reply to a command. */
export function reply(
  s: EtcdState,
  requestId: string,
  ok: boolean,
  message: string,
): void {
  s.out.push({ kind: "reply", requestId, ok, message });
}

/** Queues a decision log line. */
export function log(
  s: EtcdState,
  level: "debug" | "info" | "warn",
  event: string,
  fields: Record<string, string | number | boolean | null>,
): void {
  s.out.push({ kind: "log", level, event, fields });
}

/** Forgets our lease and asks etcd to revoke it (best effort). */
export function dropLease(s: EtcdState): void {
  const id = s.lease.drop();
  if (id !== null) request(s, { kind: "revoke", leaseId: id });
}

/** Steps down; a promoted node demotes with `reason`. */
export function becomeFollower(s: EtcdState, reason: DemoteReason): void {
  const wasMaster = s.promoted;
  s.state = "follower";
  s.promoted = false;
  s.masterSinceMs = null;
  if (!wasMaster) return;
  log(s, "warn", "demote", { term: s.term, reason });
  s.out.push({ kind: "demote", term: s.term, reason, handover: false });
}

/** The best eligible member other than us, by rank. */
export function bestOther(s: EtcdState): string | null {
  const others = [...s.view.members.values()].filter((member) =>
    member.id !== s.o.selfId && member.eligible &&
    member.role === "voter" && member.priority > 0
  );
  return others.sort(compareRank)[0]?.id ?? null;
}

/** We hold the key (and pre_promote approved): act as master, if still in time. */
export function promote(s: EtcdState): void {
  if (s.nowMs >= masterUntilMs(s)) {
    // The lease ran short while the transaction or the hook ran: give the
    // key up rather than promote without the margin.
    becomeFollower(s, "lease_expired");
    dropLease(s);
    return;
  }
  s.promoted = true;
  s.masterSinceMs = s.nowMs;
  log(s, "info", "promote", { term: s.term, reason: s.promoteReason });
  s.out.push({ kind: "promote", term: s.term, reason: s.promoteReason });
}
