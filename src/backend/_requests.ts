/**
 * The etcd requests of the election that take more than one call or a
 * transaction: a renewal confirmed by a linearizable read, the campaign
 * (create the master key if absent), the resign (delete it if ours, leave a
 * handover key). Translate etcd's answers; decide nothing.
 */

import type { EtcdClient } from "../etcd/client.ts";
import type { HandoverKey, MasterKey } from "../etcd_election/types.ts";

/**
 * One keepalive, then a linearizable read; returns the TTL (0 = lease gone).
 * etcd before 3.4.25/3.5.8 lets a leader that lost its quorum renew leases
 * until it notices (etcd issue 15247), after a new leader counted our lease
 * without that renewal. The read succeeds only through a leader that still
 * has its quorum after the renewal, so a renewal counts only where it holds.
 */
export async function renewLease(
  client: EtcdClient,
  prefix: string,
  options: { leaseId: string; timeoutMs: number },
): Promise<number> {
  const started = performance.now();
  const { leaseId, timeoutMs } = options;
  const ttlSec = await client.leaseKeepAlive(leaseId, { timeoutMs });
  if (ttlSec <= 0) return ttlSec;
  const leftMs = Math.max(1, timeoutMs - (performance.now() - started));
  // Through the member that took the keepalive: another member's leader
  // says nothing about the one that renewed.
  await client.range(`${prefix}/master`, { timeoutMs: leftMs, pinned: true });
  return ttlSec;
}

/** Creates the master key if absent, bound to `leaseId`; the key after it. */
export async function campaign(
  client: EtcdClient,
  prefix: string,
  options: { leaseId: string; value: string; timeoutMs: number },
): Promise<{ won: boolean; master: MasterKey | null }> {
  const { leaseId, value, timeoutMs } = options;
  const master = `${prefix}/master`;
  const result = await client.txn(
    [{ key: master, target: "CREATE", operand: "0" }],
    [
      { put: { key: master, value, lease: leaseId } },
      { delete: { key: `${prefix}/handover` } },
    ],
    [{ range: { key: master } }],
    { timeoutMs },
  );
  if (result.succeeded) {
    const key = {
      holder: value,
      createRevision: result.revision,
      lease: leaseId,
    };
    return { won: true, master: key };
  }
  const kv = result.ranges[0]?.[0];
  return {
    won: false,
    master: kv === undefined ? null : {
      holder: kv.value,
      createRevision: kv.createRevision,
      lease: kv.lease,
    },
  };
}

/** Deletes the master key if `leaseId` holds it, leaving `handover`. */
export async function resign(
  client: EtcdClient,
  prefix: string,
  options: { leaseId: string; handover: HandoverKey; timeoutMs: number },
): Promise<boolean> {
  const { leaseId, handover, timeoutMs } = options;
  const result = await client.txn(
    [{ key: `${prefix}/master`, target: "LEASE", operand: leaseId }],
    [
      { delete: { key: `${prefix}/master` } },
      {
        put: {
          key: `${prefix}/handover`,
          value: JSON.stringify(handover),
          lease: leaseId,
        },
      },
    ],
    [],
    { timeoutMs },
  );
  return result.succeeded;
}
