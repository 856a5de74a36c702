/**
 * Quorum arithmetic: how many members (self included) make a majority. Every
 * member votes, witnesses and priority-0 voters too. Never looks at who is
 * alive; that is the caller's business.
 */

import { assert } from "./assert.ts";

/**
 * Majority size for `memberCount` members. With `twoNode` and exactly two
 * members it is 1 (corosync's two_node): either node may be master alone,
 * which is a split brain whenever the link between them fails.
 */
export function quorumSize(memberCount: number, twoNode: boolean): number {
  assert(memberCount >= 1, `a cluster needs members, got ${memberCount}`);
  if (twoNode && memberCount === 2) return 1;
  return Math.floor(memberCount / 2) + 1;
}
