/**
 * The public surface of the election core: options, inputs, effects and the
 * status snapshot. The daemon shell builds inputs from sockets, timers and
 * checks, and carries out effects in order. Types only (plus the re-exported
 * message parser); nothing here reads a clock or touches the world.
 */

import type { Message } from "./message.ts";

export type { HandoverClaim, Message } from "./message.ts";
export { parseMessage, TERM_JUMP_MAX, TERM_MAX } from "./message.ts";

/**
 * A cluster member; the list is identical on every node. A member's priority
 * is not part of it: each node sets only its own (`ElectionOptions.priority`)
 * and advertises it in its messages.
 */
export interface Member {
  id: string;
  /** `witness` votes but never campaigns. */
  role: "voter" | "witness";
}

/** Why a node promotes: won an election, or a master handed over to it. */
export const PROMOTE_REASONS = ["elected", "handover"] as const;

/**
 * Why a node demotes. `start` comes from the shell (every driver is told
 * `demote` when the daemon starts); the rest from the core: `quorum_lost`
 * (the lease came within the step-down margin of its end without a renewal),
 * `lease_expired` (found expired, e.g. after a pause), `higher_term` (a newer
 * master's message), `leader_conflict` (two masters in one term: two_node
 * only), and the handovers `switchover`, `drain`, `check_failed`,
 * `preempted`, `shutdown`.
 */
export const DEMOTE_REASONS = [
  "start",
  "quorum_lost",
  "lease_expired",
  "higher_term",
  "leader_conflict",
  "switchover",
  "drain",
  "check_failed",
  "preempted",
  "shutdown",
] as const;

/** Why a node promoted. */
export type PromoteReason = typeof PROMOTE_REASONS[number];
/** Why a node demoted. */
export type DemoteReason = typeof DEMOTE_REASONS[number];
/** The `reason` of every role event drivers receive. */
export type RoleReason = PromoteReason | DemoteReason;

/** True when `reason` is a documented demote reason. */
export function isDemoteReason(reason: string): reason is DemoteReason {
  return (DEMOTE_REASONS as readonly string[]).includes(reason);
}

/**
 * Test-only faults that break the safety argument on purpose, so the
 * simulator can prove its checkers find a split brain. The daemon never sets
 * one. `skip_lease_refusal`: voters grant votes within E of hearing a leader.
 * `ignore_lease_expiry`: a leader keeps acting as master without a lease.
 * `no_step_down_margin`: a leader acts until its lease's very end (M = 0).
 */
export type ElectionMutation =
  | "skip_lease_refusal"
  | "ignore_lease_expiry"
  | "no_step_down_margin";

/** Construction parameters; all durations are monotonic milliseconds. */
export interface ElectionOptions {
  selfId: string;
  /** ALL members including self, identical on every node. */
  members: Member[];
  /** This node's own priority, 0..255 (0 = never master); advertised to peers. */
  priority: number;
  /** h: ping/gossip period; the leader renews every h/2. */
  heartbeatMs: number;
  /** E: refusal window after hearing a leader, and base campaign delay. */
  electionTimeoutMs: number;
  /** L: lease per acked round; must be < E/(1+ρ)² with ρ = 1%. */
  leaseMs: number;
  /** Δ: extra campaign delay per rank. */
  rankDelayMs: number;
  /** Freshly elected masters hold at least this long before preempt/check handovers. */
  minHoldMs: number;
  preempt: boolean;
  /** How long a better node must be seen before preempting the master. */
  preemptDelayMs: number;
  /** With exactly two members, a majority of 1 (either may be master alone). */
  twoNode: boolean;
  /** Winning emits `pre_promote` and waits for `pre_promote_result`. */
  prePromote: boolean;
  /** Seeds the campaign jitter PRNG. */
  seed: number;
  /** Durable term/vote from state_dir; null = empty state_dir. */
  persisted: { term: number; votedFor: string | null } | null;
  /** Monotonic time at process start; no vote is granted before startMs + E. */
  startMs: number;
  /**
   * The shell tells every driver `demote` (reason `start`) at start: the node
   * stays ineligible until the `start_demote_done` input says it finished.
   */
  startDemote?: boolean;
  /** Tests only: see ElectionMutation. */
  mutation?: ElectionMutation;
  /**
   * Planned handovers: the master stops answering as master (probes 503)
   * this long before its demote drivers run, still renewing its lease, so
   * a load balancer stops sending first. 0 or absent = demote at once.
   */
  handoverDrainMs?: number;
}

/** Operator commands from the control channel or signals. */
export type Command =
  | { type: "switchover"; to?: string }
  | { type: "drain" }
  | { type: "undrain" }
  | { type: "shutdown" };

/** Everything that happens to the core; `nowMs` is monotonic and never decreases. */
export type Input =
  | { kind: "tick"; nowMs: number }
  | { kind: "message"; nowMs: number; from: string; message: Message }
  | { kind: "peer_up"; nowMs: number; peer: string }
  | { kind: "peer_down"; nowMs: number; peer: string }
  | { kind: "check"; nowMs: number; healthy: boolean }
  | { kind: "command"; nowMs: number; requestId: string; command: Command }
  | { kind: "demote_done"; nowMs: number; term: number }
  | { kind: "start_demote_done"; nowMs: number }
  | { kind: "pre_promote_result"; nowMs: number; term: number; ok: boolean }
  | { kind: "pause"; nowMs: number; paused: boolean };

/** Scalar values a log line may carry. */
export type LogValue = string | number | boolean | null;

/** What the shell must do, in order. */
export type Effect =
  | { kind: "persist"; term: number; votedFor: string | null }
  | { kind: "send"; to: string; message: Message }
  | { kind: "promote"; term: number; reason: PromoteReason }
  | { kind: "demote"; term: number; reason: DemoteReason; handover: boolean }
  | { kind: "pre_promote"; term: number }
  | { kind: "reply"; requestId: string; ok: boolean; message: string }
  | {
    kind: "log";
    level: "debug" | "info" | "warn";
    event: string;
    fields: Record<string, LogValue>;
  };

/** Raft state inside the core. */
export type ElectionState =
  | "follower"
  | "pre_candidate"
  | "candidate"
  | "leader";

/** Role at the public surface (probes, CLI, hooks). */
export type PublicRole = "master" | "backup" | "witness" | "candidate";

/** One member as this node sees it. */
export interface MemberStatus {
  id: string;
  role: "voter" | "witness";
  /** As the member advertises it (own config for self); null when not heard yet. */
  priority: number | null;
  /** Connected and heard within E (always true for self). */
  alive: boolean;
  lastHeardMs: number | null;
  /** As last gossiped; null when not heard yet. */
  eligible: boolean | null;
}

/** Immutable snapshot for HTTP probes and the CLI. */
export interface ElectionStatus {
  id: string;
  state: ElectionState;
  role: PublicRole;
  term: number;
  votedFor: string | null;
  masterId: string | null;
  leaseValid: boolean;
  leaseRemainingMs: number;
  quorum: boolean;
  eligible: boolean;
  drained: boolean;
  /** Cluster maintenance: no automatic campaign, handover or preemption. */
  paused: boolean;
  masterSinceMs: number | null;
  members: MemberStatus[];
}
