/**
 * Campaign order (keepalived's skew idea): the eligible nodes a node sees
 * alive, by priority descending then id ascending. Ranking only shapes timing
 * so the preferred backup usually wins in one round trip; safety never
 * depends on it. Never reads clocks or state; callers pass the candidates.
 */

/** A node that may be ranked. */
export interface RankEntry {
  id: string;
  priority: number;
}

/** Orders by priority desc, then id asc (the one order every node uses). */
export function compareRank(a: RankEntry, b: RankEntry): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * 0-based position of `selfId` among `entries` (which must include it); the
 * k-th ranked node waits E + k·Δ before campaigning.
 */
export function rankOf(selfId: string, entries: RankEntry[]): number {
  const sorted = [...entries].sort(compareRank);
  const index = sorted.findIndex((entry) => entry.id === selfId);
  return index < 0 ? sorted.length : index;
}
