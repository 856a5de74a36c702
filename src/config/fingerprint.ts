/**
 * What must be identical on every node of a cluster (DESIGN §1: membership is
 * static), as a canonical JSON-able object. The mesh hashes it for the
 * handshake and diffs it on mismatch. Holds no secrets and no local-only
 * settings (addresses, drivers, checks, priorities).
 */

import type { Config, NodeRole } from "./types.ts";

/**
 * Version of the description format and of the protocol it guards. 2: every
 * node advertises its own priority in heartbeats, acks and gossip, so a node
 * of version 1 (which sends none) is refused at the handshake by name.
 */
export const PROTOCOL_VERSION = 2;

/** The cluster-wide settings every member must agree on. */
export interface ClusterDescription {
  protocol: number;
  /** Every member, this node included, sorted by id. */
  members: { id: string; role: NodeRole }[];
  heartbeatMs: number;
  electionTimeoutMs: number;
  leaseMs: number;
  rankDelayMs: number;
  twoNode: boolean;
}

/** The canonical description of `config`'s cluster (same on every node). */
export function clusterDescription(config: Config): ClusterDescription {
  const members = [
    { id: config.node.id, role: config.node.role },
    ...config.cluster.peers.map((peer) => ({ id: peer.id, role: peer.role })),
  ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    protocol: PROTOCOL_VERSION,
    members,
    heartbeatMs: config.cluster.heartbeatMs,
    electionTimeoutMs: config.cluster.electionTimeoutMs,
    leaseMs: config.cluster.leaseMs,
    rankDelayMs: config.cluster.rankDelayMs,
    twoNode: config.cluster.twoNode,
  };
}
