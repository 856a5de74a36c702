/**
 * The node's view of the cluster prefix in etcd: the master key, the
 * handover key, the pause key and the member records, applied in revision
 * order from a full read or the watch. Parses what other nodes wrote and
 * drops what does not parse (a bad record never throws). Pure.
 */

import type {
  HandoverKey,
  KeyChange,
  MasterKey,
  MemberRecord,
} from "./types.ts";

/** Member records kept; a prefix holding more is misconfigured. */
export const MEMBERS_MAX = 256;

/** What the node knows of the prefix. */
export interface View {
  /** True once a full read arrived; no campaign before. */
  synced: boolean;
  /** Highest revision applied. */
  revision: number;
  master: MasterKey | null;
  handover: HandoverKey | null;
  paused: boolean;
  members: Map<string, MemberRecord>;
}

/** An empty, unsynced view. */
export function emptyView(): View {
  return {
    synced: false,
    revision: 0,
    master: null,
    handover: null,
    paused: false,
    members: new Map(),
  };
}

/** A member record from JSON, or null when it is not one. */
export function parseMember(id: string, text: string): MemberRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (_error: unknown) {
    return null; // Written by something else: ignored.
  }
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (r["id"] !== id) return null;
  if (r["role"] !== "voter" && r["role"] !== "witness") return null;
  const priority = r["priority"];
  if (typeof priority !== "number" || !Number.isInteger(priority)) return null;
  return {
    id,
    role: r["role"],
    priority,
    eligible: r["eligible"] === true,
    state: typeof r["state"] === "string" ? r["state"] : "backup",
    master: typeof r["master"] === "string" ? r["master"] : null,
    term: typeof r["term"] === "number" ? r["term"] : 0,
  };
}

/** The handover key's value, or null when it does not parse. */
export function parseHandover(text: string): HandoverKey | null {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    if (typeof raw["from"] !== "string") return null;
    return {
      from: raw["from"],
      to: typeof raw["to"] === "string" ? raw["to"] : null,
    };
  } catch (_error: unknown) {
    return null; // Not ours: treated as no handover.
  }
}

/**
 * Applies one change unless it is not newer than `sinceRevision` (what the
 * view held before this batch: one transaction's changes share a revision);
 * returns whether it applied. The master key's holder is its value (a node id).
 */
export function applyChange(
  view: View,
  change: KeyChange,
  sinceRevision: number,
): boolean {
  if (change.modRevision !== 0 && change.modRevision <= sinceRevision) {
    return false;
  }
  const { key, value } = change;
  switch (key.kind) {
    case "master":
      view.master = value === null ? null : {
        holder: value,
        createRevision: change.createRevision,
        lease: change.lease,
      };
      break;
    case "handover":
      view.handover = value === null ? null : parseHandover(value);
      break;
    case "pause":
      view.paused = value !== null;
      break;
    case "member": {
      if (value === null) {
        view.members.delete(key.id);
        break;
      }
      const record = parseMember(key.id, value);
      if (record === null) view.members.delete(key.id);
      else if (view.members.has(key.id) || view.members.size < MEMBERS_MAX) {
        view.members.set(key.id, record);
      }
      break;
    }
    case "other":
      break;
  }
  return true;
}
