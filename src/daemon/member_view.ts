/**
 * One member's own view, compact, as `clustd status` gathers it from every
 * node: role, term, master it follows, lease remaining, eligibility and why
 * not, drained, paused, priority, version, uptime and the peers it is
 * connected to. Small on purpose: fifty of them fit one 64 KiB message.
 */

import type { StatusSnapshot } from "../http/handler.ts";

/** One member's own view of itself and the cluster. */
export interface MemberView {
  id: string;
  role: string;
  term: number;
  master: string | null;
  quorum: boolean;
  lease_remaining_ms: number;
  eligible: boolean;
  /** Why not eligible; empty when eligible. */
  ineligible: string[];
  drained: boolean;
  paused: boolean;
  priority: number;
  version: string;
  uptime_ms: number;
  /** Peers this member has a live connection to, sorted. */
  connected: string[];
}

/** The compact view of a full status snapshot. */
export function memberView(status: StatusSnapshot): MemberView {
  const self = status.members.find((m) => m.id === status.id);
  return {
    id: status.id,
    role: status.role,
    term: status.term,
    master: status.master,
    quorum: status.quorum,
    lease_remaining_ms: status.lease_remaining_ms,
    eligible: status.eligible,
    ineligible: status.ineligible ?? [],
    drained: status.drained,
    paused: status.paused === true,
    priority: self?.priority ?? 0,
    version: status.version,
    uptime_ms: status.uptime_ms,
    connected: status.members.filter((m) => m.id !== status.id && m.connected)
      .map((m) => m.id),
  };
}

/** Validates a view from a peer; null when it is not one. */
export function parseMemberView(value: unknown): MemberView | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const strings = ["id", "role", "version"];
  const numbers = ["term", "lease_remaining_ms", "priority", "uptime_ms"];
  const booleans = ["quorum", "eligible", "drained", "paused"];
  if (strings.some((k) => typeof r[k] !== "string")) return null;
  if (numbers.some((k) => typeof r[k] !== "number")) return null;
  if (booleans.some((k) => typeof r[k] !== "boolean")) return null;
  if (r["master"] !== null && typeof r["master"] !== "string") return null;
  const lists = [r["ineligible"], r["connected"]];
  if (
    lists.some((l) => !Array.isArray(l) || l.some((x) => typeof x !== "string"))
  ) return null;
  return value as MemberView;
}
