/**
 * A three-member etcd on network-namespace test hosts: each member runs in
 * its host's namespace (through `ip netns exec`, so its PID is etcd's) and
 * is probed with curl from inside that namespace. Used by the etcd netns
 * tests and the failover benchmark's etcd row; stopping is the caller's.
 */
import { execLoggedArgv } from "../_process.ts";
import type { Host, Topology } from "../netns/_topology.ts";
import { type EtcdCluster, startEtcdCluster } from "./_etcd_cluster.ts";

/** Starts etcd on `hosts` of `topology` and waits until it serves. */
export function startNetnsEtcd(
  topology: Topology,
  hosts: readonly Host[],
): Promise<EtcdCluster> {
  return startEtcdCluster({
    size: hosts.length,
    hosts: hosts.map((h) => h.address),
    spawn: (index, argv, logPath) =>
      topology.spawn(hosts[index]!, execLoggedArgv(argv, logPath)),
    post: async (index, url, body) => {
      const result = await topology.exec(hosts[index]!, [
        "curl",
        "-s",
        "-m",
        "1",
        "-X",
        "POST",
        url,
        "-d",
        JSON.stringify(body),
      ]);
      if (result.code !== 0) return null;
      try {
        const json = JSON.parse(result.stdout) as Record<string, unknown>;
        return "error" in json ? null : json;
      } catch (_error: unknown) {
        return null; // Not an answer (member down): the caller polls again.
      }
    },
  });
}
