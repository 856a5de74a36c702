/**
 * The status snapshot of the etcd election, in the mesh core's shape plus
 * the pause flag and lease id. Members are this node and the records other
 * nodes keep under the prefix (a record lives as long as its node's lease).
 * Pure; reads only what it is given.
 */

import type { PublicRole } from "../election/types.ts";
import type { View } from "./_view.ts";
import type { EtcdElectionStatus } from "./types.ts";

/** Everything the snapshot is built from. */
export interface StatusParts {
  selfId: string;
  role: "voter" | "witness";
  priority: number;
  state: "follower" | "candidate" | "leader";
  publicRole: PublicRole;
  master: boolean;
  term: number;
  nowMs: number;
  /** End of the master's validity (lease minus margin) on our clock. */
  masterUntilMs: number;
  masterSinceMs: number | null;
  leaseValid: boolean;
  leaseId: string | null;
  eligible: boolean;
  drained: boolean;
  view: View;
}

/** The immutable snapshot for probes, the CLI and the member record. */
export function buildStatus(p: StatusParts): EtcdElectionStatus {
  const holder = p.view.master?.holder ?? null;
  const others = [...p.view.members.values()]
    .filter((member) => member.id !== p.selfId)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    id: p.selfId,
    state: p.state,
    role: p.publicRole,
    term: p.term,
    votedFor: null,
    masterId: p.master ? p.selfId : holder === p.selfId ? null : holder,
    leaseValid: p.master,
    leaseRemainingMs: p.master ? p.masterUntilMs - p.nowMs : 0,
    quorum: p.leaseValid,
    eligible: p.eligible,
    drained: p.drained,
    masterSinceMs: p.master ? p.masterSinceMs : null,
    paused: p.view.paused,
    leaseId: p.leaseId,
    members: [
      {
        id: p.selfId,
        role: p.role,
        priority: p.priority,
        alive: true,
        lastHeardMs: p.nowMs,
        eligible: p.eligible,
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
