/**
 * Translates the validated config into the options of the election core and
 * of the mesh. Pure apart from the random seed; decides nothing.
 */

import { clusterDescription } from "../config/fingerprint.ts";
import type { Config } from "../config/types.ts";
import type { ElectionOptions } from "../election/types.ts";
import type { MeshOptions } from "../mesh/mesh.ts";
import { monotonicMs } from "./clock.ts";
import type { PersistentState } from "./state_store.ts";

/** Longest reconnect backoff: quick, since failover waits on reconnects. */
const RECONNECT_MAX_MS = 2000;

/** Options of the election core for this node. */
export function electionOptions(
  config: Config,
  start: {
    persisted: PersistentState | null;
    startMs: number;
    prePromote: boolean;
  },
): ElectionOptions {
  const { node, cluster } = config;
  return {
    selfId: node.id,
    members: [
      { id: node.id, role: node.role },
      ...cluster.peers.map((p) => ({ id: p.id, role: p.role })),
    ],
    priority: node.priority,
    // Every driver is told `demote` (reason start) before we may campaign.
    startDemote: true,
    heartbeatMs: cluster.heartbeatMs,
    electionTimeoutMs: cluster.electionTimeoutMs,
    leaseMs: cluster.leaseMs,
    rankDelayMs: cluster.rankDelayMs,
    minHoldMs: cluster.minHoldMs,
    preempt: cluster.preempt,
    preemptDelayMs: cluster.preemptDelayMs,
    handoverDrainMs: cluster.handoverDrainMs,
    twoNode: cluster.twoNode,
    prePromote: start.prePromote,
    seed: crypto.getRandomValues(new Uint32Array(1))[0] ?? 1,
    persisted: start.persisted,
    startMs: start.startMs,
  };
}

/** Options of the mesh for this node; `driverKey` serves external drivers. */
export function meshOptions(
  config: Config,
  driverKey: (id: string) => Uint8Array | undefined,
): MeshOptions {
  const { node, cluster } = config;
  return {
    selfId: node.id,
    peers: cluster.peers.map((p) => ({ id: p.id, url: p.url })),
    secret: cluster.secret,
    ...(cluster.driverToken ? { driverKey } : {}),
    clusterDescription: clusterDescription(config),
    heartbeatMs: cluster.heartbeatMs,
    peerTimeoutMs: cluster.electionTimeoutMs,
    reconnectMaxMs: Math.max(
      100,
      Math.min(RECONNECT_MAX_MS, cluster.heartbeatMs),
    ),
    nowMs: monotonicMs,
  };
}
