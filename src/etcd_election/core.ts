/**
 * The election on etcd as a pure state machine: inputs carry monotonic time
 * and etcd's answers, effects are etcd requests, promote/demote, replies and
 * log lines. No I/O, clock or timer inside (the shell is
 * src/daemon/etcd_backend.ts).
 *
 * Why two masters cannot coexist: the master key is created only if absent
 * and is bound to the creator's etcd lease, so etcd holds at most one master
 * key, and it outlives its holder's lease by nothing. A keepalive sent at t_s
 * and answered with TTL T keeps the lease alive on etcd until at least
 * t_s + T (etcd counts from when it receives the renewal, later). The holder
 * acts as master only until t_s + T/(1+ρ)² − M on its own monotonic clock
 * (ρ = 1% clock-rate drift, the mesh lease's margin), so it has stopped,
 * with M = T/4 to spare for its demote drivers, before etcd could delete
 * the key and let another node create it. A master that cannot renew
 * therefore demotes by itself, whatever etcd or the network does.
 */

import { assert } from "../election/assert.ts";
import { compareRank } from "../election/rank.ts";
import type { PublicRole } from "../election/types.ts";
import { applyChange, emptyView, type View } from "./_view.ts";
import type {
  EtcdCommand,
  EtcdEffect,
  EtcdElectionOptions,
  EtcdElectionStatus,
  EtcdInput,
  EtcdRequest,
  MemberRecord,
} from "./types.ts";

/** Clock-rate drift the lease margin is computed with (ρ = 1%, as the mesh). */
export const CLOCK_DRIFT_RHO = 0.01;
/** Keepalives sent per lease TTL. */
export const RENEWS_PER_TTL = 6;
/** Share of the TTL a master stops early, for its demote drivers. */
export const DEMOTE_MARGIN_SHARE = 0.25;

interface LocalLease {
  id: string;
  /** Valid on etcd at least until here on our clock (drift included). */
  untilMs: number;
  /** When the keepalive in flight was sent, or null. */
  renewSentMs: number | null;
  lastRenewSentMs: number;
}

interface Leaving {
  reason: string;
  to: string | null;
  requestId: string | null;
  term: number;
  demoted: boolean;
}

/** One node's election on etcd. */
export class EtcdElection {
  readonly #o: EtcdElectionOptions;
  readonly #renewEveryMs: number;
  readonly #marginMs: number;
  #out: EtcdEffect[] = [];
  #nowMs: number;
  #started = false;
  #view: View = emptyView();
  #lease: LocalLease | null = null;
  #grantSentMs: number | null = null;
  #grantRetryMs = 0;
  #state: "follower" | "candidate" | "leader" = "follower";
  #term = 0;
  #promoted = false;
  #masterSinceMs: number | null = null;
  #masterGoneMs: number | null = null;
  #handoverSeenMs = 0;
  #holdUntilMs = 0;
  #leaving: Leaving | null = null;
  #healthy = true;
  #drained = false;
  #shuttingDown = false;
  #published = "";

  /** Validates the timing (assert) and starts as a follower with no lease. */
  constructor(options: EtcdElectionOptions) {
    assert(
      options.ttlMs >= 1000 && options.ttlMs % 1000 === 0,
      "ttl must be whole seconds",
    );
    assert(options.rankDelayMs >= 0, "Δ ≥ 0 required");
    this.#o = options;
    this.#nowMs = options.startMs;
    this.#renewEveryMs = options.ttlMs / RENEWS_PER_TTL;
    // At start, give every node half a TTL to publish its record, so the
    // first campaign already follows the ranking.
    this.#holdUntilMs = options.startMs + options.ttlMs / 2;
    this.#marginMs = options.ttlMs * DEMOTE_MARGIN_SHARE;
  }

  /** Feeds one input; returns the effects to carry out, in order. */
  step(input: EtcdInput): EtcdEffect[] {
    assert(input.nowMs >= this.#nowMs, "time went backwards");
    this.#out = [];
    this.#nowMs = input.nowMs;
    if (!this.#started) {
      // Start in a known state: drivers let go of whatever a previous run held.
      this.#started = true;
      this.#out.push({
        kind: "demote",
        term: 0,
        reason: "start",
        handover: false,
      });
    }
    // Lease first: a master resuming from a pause demotes before anything else.
    this.#checkLease();
    this.#dispatch(input);
    this.#checkLease();
    this.#maintainLease();
    this.#maybeLeave();
    this.#maybeCampaign();
    this.#publishIfChanged();
    return this.#out;
  }

  /** True while this node may act as master. */
  isMaster(nowMs: number): boolean {
    return this.#state === "leader" && this.#promoted &&
      this.#leaving === null && this.#lease !== null &&
      nowMs < this.#lease.untilMs - this.#marginMs;
  }

  #dispatch(input: EtcdInput): void {
    switch (input.kind) {
      case "tick":
        return;
      case "check":
        if (input.healthy !== this.#healthy) {
          this.#healthy = input.healthy;
          this.#log("info", "check", { healthy: input.healthy });
        }
        return;
      case "command":
        return this.#command(input.requestId, input.command);
      case "demote_done":
        return this.#onDemoteDone(input.term);
      case "snapshot":
        return this.#onSnapshot(input);
      case "changes": {
        const since = this.#view.revision;
        for (const change of input.changes) {
          if (applyChange(this.#view, change, since)) {
            this.#view.revision = Math.max(
              this.#view.revision,
              change.modRevision,
            );
          }
        }
        return this.#afterView();
      }
      case "granted":
        return this.#onGranted(input.leaseId, input.ttlSec);
      case "grant_failed":
        this.#grantSentMs = null;
        this.#grantRetryMs = this.#nowMs + this.#renewEveryMs;
        this.#log("warn", "lease_grant_failed", { error: input.error });
        return;
      case "renewed":
        return this.#onRenewed(input.leaseId, input.ttlSec);
      case "renew_failed":
        if (this.#lease?.id === input.leaseId) this.#lease.renewSentMs = null;
        this.#log("warn", "lease_renew_failed", { error: input.error });
        return;
      case "campaigned":
        return this.#onCampaigned(input);
      case "campaign_failed":
        if (this.#state === "candidate") this.#state = "follower";
        this.#holdUntilMs = this.#nowMs + this.#renewEveryMs;
        this.#log("warn", "campaign_failed", { error: input.error });
        return;
      case "resigned":
        return this.#onResigned(input.ok, input.error);
    }
  }

  #onSnapshot(input: Extract<EtcdInput, { kind: "snapshot" }>): void {
    if (input.revision < this.#view.revision) return;
    const view = emptyView();
    for (const change of input.changes) applyChange(view, change, 0);
    view.synced = true;
    view.revision = input.revision;
    this.#view = view;
    this.#afterView();
  }

  /** Reacts to the master key as the view now shows it. */
  #afterView(): void {
    const master = this.#view.master;
    const self = this.#o.selfId;
    if (master === null) {
      if (this.#state === "leader" && this.#leaving === null) {
        // Our key vanished (lease expired on etcd, or an operator deleted
        // it): someone else may create it now.
        this.#becomeFollower("master_key_lost");
        this.#abandonLease();
      }
      this.#masterGoneMs ??= this.#nowMs;
      return;
    }
    this.#masterGoneMs = null;
    this.#term = Math.max(this.#term, master.createRevision);
    const ours = this.#lease !== null && master.lease === this.#lease.id;
    if (master.holder === self && !ours && this.#state !== "leader") {
      // A previous run of this node held it; that run is over (we demoted
      // at start), so let the others have it now rather than at its TTL.
      this.#log("info", "stale_master_key", { lease: master.lease });
      this.#request({ kind: "revoke", leaseId: master.lease });
    } else if (this.#state === "leader" && (master.holder !== self || !ours)) {
      this.#becomeFollower("master_key_taken");
    }
  }

  #onGranted(leaseId: string, ttlSec: number): void {
    const sentMs = this.#grantSentMs ?? this.#nowMs;
    this.#grantSentMs = null;
    if (ttlSec <= 0 || this.#lease !== null) {
      this.#request({ kind: "revoke", leaseId });
      return;
    }
    this.#lease = {
      id: leaseId,
      untilMs: sentMs + this.#validMs(ttlSec),
      renewSentMs: null,
      lastRenewSentMs: sentMs,
    };
    this.#published = "";
    this.#log("debug", "lease_granted", { lease: leaseId, ttlSec });
  }

  #onRenewed(leaseId: string, ttlSec: number): void {
    const lease = this.#lease;
    if (lease === null || lease.id !== leaseId || lease.renewSentMs === null) {
      return;
    }
    const sentMs = lease.renewSentMs;
    lease.renewSentMs = null;
    if (ttlSec <= 0) {
      this.#log("warn", "lease_gone", { lease: leaseId });
      if (this.#state === "leader") this.#becomeFollower("lease_expired");
      this.#lease = null;
      return;
    }
    lease.untilMs = Math.max(lease.untilMs, sentMs + this.#validMs(ttlSec));
  }

  /** How long a lease renewed with `ttlSec` is valid from its send time. */
  #validMs(ttlSec: number): number {
    const ttlMs = Math.min(ttlSec * 1000, this.#o.ttlMs);
    return ttlMs / (1 + CLOCK_DRIFT_RHO) ** 2;
  }

  #onCampaigned(input: Extract<EtcdInput, { kind: "campaigned" }>): void {
    if (this.#state !== "candidate") return;
    this.#state = "follower";
    const master = input.master;
    if (master !== null && master.createRevision >= this.#view.revision) {
      this.#view.master = master;
      this.#view.revision = Math.max(
        this.#view.revision,
        master.createRevision,
      );
      this.#masterGoneMs = null;
    }
    const ours = input.won && master !== null &&
      this.#lease?.id === input.leaseId &&
      master.lease === input.leaseId;
    if (!ours) {
      this.#log("info", "campaign_lost", { master: master?.holder ?? null });
      return;
    }
    this.#state = "leader";
    this.#term = master.createRevision;
    const handover = this.#view.handover?.to === this.#o.selfId;
    this.#view.handover = null;
    if (this.#nowMs >= this.#lease!.untilMs - this.#marginMs) {
      // The lease ran short while the transaction was in flight: give the
      // key up rather than promote without a margin.
      this.#becomeFollower("lease_expired");
      this.#abandonLease();
      return;
    }
    this.#promoted = true;
    this.#masterSinceMs = this.#nowMs;
    this.#log("info", "promote", {
      term: this.#term,
      reason: handover ? "handover" : "elected",
    });
    this.#out.push({ kind: "promote", term: this.#term });
  }

  /** Demotes when the master margin or the lease ran out; drops a dead lease. */
  #checkLease(): void {
    const lease = this.#lease;
    if (lease === null) return;
    if (
      this.#state === "leader" && this.#promoted &&
      !this.isMaster(this.#nowMs) && this.#leaving === null
    ) {
      this.#becomeFollower("lease_expired");
      this.#abandonLease();
      return;
    }
    if (this.#nowMs >= lease.untilMs) {
      this.#log("warn", "lease_lost", { lease: lease.id });
      if (this.#state === "leader") this.#becomeFollower("lease_expired");
      this.#abandonLease();
    }
  }

  /** Forgets our lease and asks etcd to revoke it (best effort). */
  #abandonLease(): void {
    if (this.#lease === null) return;
    this.#request({ kind: "revoke", leaseId: this.#lease.id });
    this.#lease = null;
  }

  #becomeFollower(reason: string): void {
    const wasMaster = this.#promoted;
    this.#state = "follower";
    this.#promoted = false;
    this.#masterSinceMs = null;
    if (wasMaster) {
      this.#log("warn", "demote", { term: this.#term, reason });
      this.#out.push({
        kind: "demote",
        term: this.#term,
        reason,
        handover: false,
      });
    }
  }

  #maintainLease(): void {
    if (this.#shuttingDown && this.#leaving === null) return;
    const lease = this.#lease;
    if (lease === null) {
      if (this.#grantSentMs !== null || this.#nowMs < this.#grantRetryMs) {
        return;
      }
      this.#grantSentMs = this.#nowMs;
      this.#request({ kind: "grant", ttlSec: this.#o.ttlMs / 1000 });
      return;
    }
    if (lease.renewSentMs !== null) return;
    if (this.#nowMs < lease.lastRenewSentMs + this.#renewEveryMs) return;
    lease.renewSentMs = this.#nowMs;
    lease.lastRenewSentMs = this.#nowMs;
    this.#request({ kind: "keepalive", leaseId: lease.id });
  }

  /** Whether this node may become master now (config, checks, drain). */
  eligible(): boolean {
    return this.#o.role === "voter" && this.#o.priority > 0 && this.#healthy &&
      !this.#drained && !this.#shuttingDown;
  }

  /** The best eligible member other than us, by rank. */
  #bestOther(): string | null {
    const others = [...this.#view.members.values()].filter((member) =>
      member.id !== this.#o.selfId && member.eligible &&
      member.role === "voter" && member.priority > 0
    );
    return others.sort(compareRank)[0]?.id ?? null;
  }

  /** When this node campaigns next, or Infinity when it should not. */
  #campaignAtMs(): number {
    const view = this.#view;
    const lease = this.#lease;
    if (this.#state !== "follower" || !view.synced || view.master !== null) {
      return Infinity;
    }
    if (
      !this.eligible() || lease === null
    ) {
      return Infinity;
    }
    if (this.#nowMs >= lease.untilMs - this.#marginMs) return Infinity;
    const handover = view.handover;
    if (handover?.to === this.#o.selfId) return this.#nowMs;
    if (view.paused) return Infinity;
    // Everyone else gives the named target one TTL to take the key.
    const handoverEndMs = handover === null
      ? 0
      : this.#handoverSeenMs + this.#o.ttlMs;
    const entries = [...view.members.values()].filter((member) =>
      member.eligible && member.id !== this.#o.selfId &&
      member.id !== handover?.from
    );
    entries.push(
      { id: this.#o.selfId, priority: this.#o.priority } as MemberRecord,
    );
    const rank = entries.sort(compareRank).findIndex((m) =>
      m.id === this.#o.selfId
    );
    const goneMs = this.#masterGoneMs ?? this.#nowMs;
    const fromMs = Math.max(goneMs, handoverEndMs, this.#holdUntilMs);
    return fromMs + rank * this.#o.rankDelayMs;
  }

  #maybeCampaign(): void {
    // Paused: nothing counts toward a failover until resumed, and then the
    // ranking starts afresh.
    if (this.#view.paused) this.#masterGoneMs = null;
    else if (this.#view.master === null) this.#masterGoneMs ??= this.#nowMs;
    if (this.#view.handover !== null && this.#handoverSeenMs === 0) {
      this.#handoverSeenMs = this.#nowMs;
    } else if (this.#view.handover === null) this.#handoverSeenMs = 0;
    const lease = this.#lease;
    if (lease === null || this.#nowMs < this.#campaignAtMs()) return;
    this.#state = "candidate";
    this.#log("info", "campaign", {
      term: this.#view.revision,
      lease: lease.id,
    });
    this.#request({
      kind: "campaign",
      leaseId: lease.id,
      value: this.#o.selfId,
    });
  }

  /** A master whose checks fail or that was drained hands over when it can. */
  #maybeLeave(): void {
    if (!this.isMaster(this.#nowMs) || this.eligible()) return;
    const to = this.#bestOther();
    if (to === null) return;
    this.#startLeave(this.#drained ? "drain" : "check_failed", to, null);
  }

  #startLeave(
    reason: string,
    to: string | null,
    requestId: string | null,
  ): void {
    this.#leaving = { reason, to, requestId, term: this.#term, demoted: false };
    this.#promoted = false;
    this.#masterSinceMs = null;
    this.#log("info", "handover", { reason, target: to });
    this.#out.push({
      kind: "demote",
      term: this.#term,
      reason,
      handover: true,
    });
  }

  #onDemoteDone(term: number): void {
    const leaving = this.#leaving;
    if (leaving === null || leaving.term !== term || leaving.demoted) return;
    leaving.demoted = true;
    if (this.#lease === null) return this.#onResigned(false, "lease lost");
    this.#request({
      kind: "resign",
      leaseId: this.#lease.id,
      handover: { from: this.#o.selfId, to: leaving.to },
    });
  }

  #onResigned(ok: boolean, error: string | null): void {
    const leaving = this.#leaving;
    if (leaving === null) return;
    this.#leaving = null;
    this.#state = "follower";
    // Give the target one TTL to take the key before we would campaign.
    this.#holdUntilMs = this.#nowMs + this.#o.ttlMs;
    if (!ok) this.#abandonLease();
    if (this.#shuttingDown) this.#abandonLease();
    const target = leaving.to ?? "any eligible node";
    this.#log("info", "resigned", { reason: leaving.reason, ok, error });
    if (leaving.requestId !== null) {
      this.#reply(
        leaving.requestId,
        ok,
        ok
          ? `${leaving.reason}: handed over to ${target}`
          : `${leaving.reason}: ${
            error ?? "failed"
          }; the key expires with the lease`,
      );
    }
  }

  #command(requestId: string, command: EtcdCommand): void {
    this.#log("info", "command", { type: command.type, requestId });
    switch (command.type) {
      case "switchover":
        return this.#switchover(requestId, command.to ?? null);
      case "drain":
      case "shutdown":
        if (command.type === "drain") this.#drained = true;
        else this.#shuttingDown = true;
        return this.#leave(requestId, command.type);
      case "undrain":
        this.#drained = false;
        return this.#reply(
          requestId,
          true,
          "undrained: eligible again if checks pass",
        );
      case "pause":
      case "resume":
        return this.#request({
          kind: "set_pause",
          paused: command.type === "pause",
          requestId,
        });
    }
  }

  #switchover(requestId: string, to: string | null): void {
    if (this.#nowMs >= this.#lease!.untilMs - this.#marginMs) {
      const master = this.#view.master?.holder ?? null;
      const where = master === null ? "" : ` (master is ${master})`;
      return this.#reply(requestId, false, `this node is not master${where}`);
    }
    const target = to ?? this.#bestOther();
    if (target === null) {
      return this.#reply(requestId, false, "no eligible node to hand over to");
    }
    const member = this.#view.members.get(target);
    if (member === undefined) {
      return this.#reply(requestId, false, `"${target}" is not a live member`);
    }
    if (!member.eligible || member.role !== "voter" || member.priority === 0) {
      return this.#reply(
        requestId,
        false,
        `"${target}" is not eligible (checks, drain, witness or priority 0)`,
      );
    }
    this.#startLeave("switchover", target, requestId);
  }

  /** Drain or shutdown: a master hands over; anyone else just stops campaigning. */
  #leave(requestId: string, reason: string): void {
    if (this.#leaving !== null) {
      return this.#reply(
        requestId,
        true,
        `${reason}: handover already in progress`,
      );
    }
    if (this.isMaster(this.#nowMs)) {
      const to = this.#bestOther();
      if (to !== null || reason === "shutdown") {
        return this.#startLeave(reason, to, requestId);
      }
      return this.#reply(
        requestId,
        true,
        `${reason}: no eligible node to hand over to; staying master until one is`,
      );
    }
    if (this.#state === "candidate") this.#state = "follower";
    if (reason === "shutdown") this.#abandonLease();
    this.#reply(requestId, true, `${reason}: not master`);
  }

  #publishIfChanged(): void {
    const lease = this.#lease;
    if (lease === null || this.#shuttingDown) return;
    const record = this.#record();
    const text = JSON.stringify(record);
    if (text === this.#published) return;
    this.#published = text;
    this.#request({ kind: "publish", leaseId: lease.id, record });
  }

  #record(): MemberRecord {
    const status = this.status(this.#nowMs);
    return {
      id: this.#o.selfId,
      role: this.#o.role,
      priority: this.#o.priority,
      eligible: this.eligible(),
      state: status.role,
      master: status.masterId,
      term: this.#term,
    };
  }

  /** Absolute monotonic time the core next needs a tick. */
  nextWakeMs(): number {
    let wake = this.#campaignAtMs();
    const lease = this.#lease;
    if (lease === null) {
      if (this.#grantSentMs === null) wake = Math.min(wake, this.#grantRetryMs);
    } else {
      wake = Math.min(wake, lease.untilMs, lease.untilMs - this.#marginMs);
      if (lease.renewSentMs === null) {
        wake = Math.min(wake, lease.lastRenewSentMs + this.#renewEveryMs);
      }
    }
    if (this.#view.handover !== null && this.#handoverSeenMs > 0) {
      wake = Math.min(wake, this.#handoverSeenMs + this.#o.ttlMs);
    }
    return Math.max(wake, this.#nowMs);
  }

  #publicRole(nowMs: number): PublicRole {
    if (this.isMaster(nowMs)) return "master";
    if (this.#state === "candidate") return "candidate";
    return this.#o.role === "witness" ? "witness" : "backup";
  }

  /** Immutable snapshot for probes, the CLI and the member record. */
  status(nowMs: number): EtcdElectionStatus {
    const master = this.isMaster(nowMs);
    const lease = this.#lease;
    const leaseValid = lease !== null && nowMs < lease.untilMs;
    const holder = this.#view.master?.holder ?? null;
    const others = [...this.#view.members.values()]
      .filter((member) => member.id !== this.#o.selfId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return {
      id: this.#o.selfId,
      state: this.#state,
      role: this.#publicRole(nowMs),
      term: this.#term,
      votedFor: null,
      masterId: master
        ? this.#o.selfId
        : holder === this.#o.selfId
        ? null
        : holder,
      leaseValid: master,
      leaseRemainingMs: master && lease !== null
        ? lease.untilMs - this.#marginMs - nowMs
        : 0,
      quorum: leaseValid,
      eligible: this.eligible(),
      drained: this.#drained,
      masterSinceMs: master ? this.#masterSinceMs : null,
      paused: this.#view.paused,
      leaseId: lease?.id ?? null,
      members: [
        {
          id: this.#o.selfId,
          role: this.#o.role,
          priority: this.#o.priority,
          alive: true,
          lastHeardMs: nowMs,
          eligible: this.eligible(),
        },
        ...others.map((member) => ({
          id: member.id,
          role: member.role,
          priority: member.priority,
          alive: true,
          lastHeardMs: null,
          eligible: member.eligible,
        })),
      ],
    };
  }

  #request(request: EtcdRequest): void {
    this.#out.push({ kind: "etcd", request });
  }

  #reply(requestId: string, ok: boolean, message: string): void {
    this.#out.push({ kind: "reply", requestId, ok, message });
  }

  #log(
    level: "debug" | "info" | "warn",
    event: string,
    fields: Record<string, string | number | boolean | null>,
  ): void {
    this.#out.push({ kind: "log", level, event, fields });
  }
}
