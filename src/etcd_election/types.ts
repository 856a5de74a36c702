/**
 * The public surface of the etcd election core: options, inputs, effects.
 * Promote, demote, reply and log effects and the status snapshot have the
 * same shape as the mesh core's (src/election/types.ts), so the daemon
 * carries them out the same way; the etcd effects are requests the shell
 * sends to etcd and answers with inputs. Types only.
 */

import type {
  Command,
  Effect as CoreEffect,
  ElectionStatus,
} from "../election/types.ts";

export type { ElectionStatus } from "../election/types.ts";

/** Construction parameters; all durations are monotonic milliseconds. */
export interface EtcdElectionOptions {
  selfId: string;
  role: "voter" | "witness";
  /** 0..255, higher preferred; 0 = never master. */
  priority: number;
  /** etcd lease TTL (whole seconds, as etcd counts them). */
  ttlMs: number;
  /** Δ: extra campaign delay per rank. */
  rankDelayMs: number;
  /** Monotonic time at process start. */
  startMs: number;
  /** Hand over to a better eligible node after `preemptDelayMs` (default off). */
  preempt?: boolean;
  preemptDelayMs?: number;
  /** A new master holds this long before a check or preempt handover. */
  minHoldMs?: number;
  /** Winning emits `pre_promote` and waits for `pre_promote_result`. */
  prePromote?: boolean;
  /**
   * The shell tells the drivers `demote` (reason `start`) itself and sends
   * `start_demote_done` when they finished; until then the node does not
   * campaign. Without it the core emits that demote on its first step.
   */
  startDemote?: boolean;
}

/** What this node publishes about itself under `<prefix>/members/<id>`. */
export interface MemberRecord {
  id: string;
  role: "voter" | "witness";
  priority: number;
  eligible: boolean;
  /** Public role: master, backup, witness, candidate. */
  state: string;
  /** Master id this node follows (null when none). */
  master: string | null;
  /** Term (master key create revision) this node knows. */
  term: number;
}

/** The master key as seen in etcd. */
export interface MasterKey {
  holder: string;
  /** The fencing token: etcd revision that created the key. */
  createRevision: number;
  lease: string;
}

/** The handover key: the old master names the node that should campaign now. */
export interface HandoverKey {
  from: string;
  to: string | null;
}

/** A change to the prefix, from a full read (snapshot) or the watch. */
export interface KeyChange {
  /** Which key under the prefix: master, handover, pause, or a member id. */
  key:
    | { kind: "master" }
    | { kind: "handover" }
    | { kind: "pause" }
    | { kind: "member"; id: string }
    | { kind: "other" };
  /** null = deleted. */
  value: string | null;
  createRevision: number;
  modRevision: number;
  lease: string;
}

/** Everything that happens to the core; `nowMs` is monotonic and never decreases. */
export type EtcdInput =
  | { kind: "tick"; nowMs: number }
  | { kind: "check"; nowMs: number; healthy: boolean }
  | { kind: "command"; nowMs: number; requestId: string; command: EtcdCommand }
  | { kind: "demote_done"; nowMs: number; term: number }
  | { kind: "start_demote_done"; nowMs: number }
  | { kind: "pre_promote_result"; nowMs: number; term: number; ok: boolean }
  /** A full read of the prefix at `revision` (replaces the whole view). */
  | { kind: "snapshot"; nowMs: number; revision: number; changes: KeyChange[] }
  /** Watch events, in revision order. */
  | { kind: "changes"; nowMs: number; changes: KeyChange[] }
  | { kind: "granted"; nowMs: number; leaseId: string; ttlSec: number }
  | { kind: "grant_failed"; nowMs: number; error: string }
  /** A keepalive answered: the TTL from now (0 = lease gone) or an error. */
  | { kind: "renewed"; nowMs: number; leaseId: string; ttlSec: number }
  | { kind: "renew_failed"; nowMs: number; leaseId: string; error: string }
  | {
    kind: "campaigned";
    nowMs: number;
    leaseId: string;
    won: boolean;
    /** The master key after the transaction (ours when won). */
    master: MasterKey | null;
  }
  | { kind: "campaign_failed"; nowMs: number; error: string }
  | { kind: "resigned"; nowMs: number; ok: boolean; error: string | null };

/** Operator commands: the mesh core's, plus cluster-wide pause. */
export type EtcdCommand = Command | { type: "pause" } | { type: "resume" };

/** Requests for the shell to send to etcd; each is answered with an input. */
export type EtcdRequest =
  | { kind: "grant"; ttlSec: number }
  | { kind: "keepalive"; leaseId: string }
  | { kind: "revoke"; leaseId: string }
  /** Put the master key if absent, bound to `leaseId`; clear a handover key. */
  | { kind: "campaign"; leaseId: string; value: string }
  /** Put our member record, bound to `leaseId` (no answer needed). */
  | { kind: "publish"; leaseId: string; record: MemberRecord }
  /** Delete the master key if it is ours and leave a handover key. */
  | { kind: "resign"; leaseId: string; handover: HandoverKey }
  /** Put or delete the pause key (answered by the watch). */
  /** Put or delete the pause key; `requestId` null: nobody awaits a reply. */
  | { kind: "set_pause"; paused: boolean; requestId: string | null };

/** What the shell must do, in order. */
export type EtcdEffect =
  | Extract<
    CoreEffect,
    { kind: "promote" | "demote" | "pre_promote" | "reply" | "log" }
  >
  | { kind: "etcd"; request: EtcdRequest };

/** Status, as the mesh core's plus what only etcd knows. */
export interface EtcdElectionStatus extends ElectionStatus {
  paused: boolean;
  leaseId: string | null;
}
