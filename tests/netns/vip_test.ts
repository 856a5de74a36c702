/**
 * The vip driver with real clustd daemons in network namespaces: three
 * nodes and a client namespace on one bridge, each node running a tiny HTTP
 * server, the client sending 20 requests a second through the VIP. Kill -9
 * the master (daemon and its web server: the machine's service is gone):
 * the client's neighbour entry for the VIP must point at the new master
 * within 1 s of its promote, and the client's outage must not exceed the
 * failover plus 1 s. Then reconcile: a VIP deleted by hand on the master
 * comes back, one added by hand on a backup goes away, and the killed node,
 * restarted, drops the VIP it still held. Skipped when not root with `ip`,
 * `nft` and `arping`.
 */
import assert from "node:assert/strict";
import { killQuietly, sleep, waitFor } from "../_process.ts";
import { ClustdNetnsCluster } from "./_clustd_cluster.ts";
import { createTopology, type Host, topologySupported } from "./_topology.ts";
import {
  firstAnswer,
  holdsAddress,
  macOf,
  neighbourOf,
  outageMs,
  startClient,
  startWebServer,
} from "./_vip_client.ts";

const VIP = "198.18.0.100";
const VIP_CIDR = `${VIP}/24`;
const HEARTBEAT_MS = 100;
const RECONCILE_MS = 300;
/** Margin over reconcile_ms for a repair to be seen (a busy shared machine). */
const REPAIR_MARGIN_MS = 1500;

function arpingInstalled(): boolean {
  try {
    return Deno.statSync("/usr/bin/arping").isFile;
  } catch (_error: unknown) {
    return false;
  }
}

const supported = await topologySupported() && arpingInstalled();

/** Hook lines of `node` promoting after `sinceMs`. */
function promoteAfter(cluster: ClustdNetnsCluster, sinceMs: number) {
  return cluster.hooks().find((l) => l.event === "promote" && l.atMs > sinceMs);
}

Deno.test({
  name:
    "vip: kill -9 of the master moves the client's neighbour entry and traffic to the new master; reconcile repairs drift",
  ignore: !supported,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const topology = await createTopology(4);
  const cluster = ClustdNetnsCluster.create(topology, {
    heartbeatMs: HEARTBEAT_MS,
    members: 3,
    extraDrivers: `  - type: vip
    address: ${VIP_CIDR}
    interface: eth0
    announce_count: 3
    announce_interval_ms: 1000
    reconcile_ms: ${RECONCILE_MS}
`,
  });
  const hosts = new Map(topology.hosts.map((h) => [h.name, h]));
  const host = (name: string): Host => hosts.get(name)!;
  const client = topology.hosts[3]!;
  const webs = new Map<string, Deno.ChildProcess>();
  try {
    for (const name of cluster.hosts) {
      webs.set(name, startWebServer(topology, host(name), cluster.dir));
    }
    cluster.startAll();
    assert.ok(await cluster.waitReady(20_000), "daemons started");
    const master = await cluster.waitForMaster(20_000);
    assert.ok(master !== null, "a master");
    assert.ok(
      await waitFor(() => holdsAddress(topology, host(master), VIP_CIDR), 5000),
      "the master holds the VIP",
    );
    const loop = startClient(topology, client, VIP, cluster.dir, 8000);
    // Traffic flows through the VIP to the master before the kill.
    assert.ok(await firstAnswer(loop, 5000), "the client reaches the VIP");
    await sleep(500);
    const killMs = Date.now();
    killQuietly(webs.get(master)!.pid, "SIGKILL");
    await cluster.kill(master);
    const promote = await (async () => {
      await waitFor(() => promoteAfter(cluster, killMs) !== undefined, 10_000);
      return promoteAfter(cluster, killMs);
    })();
    assert.ok(promote !== undefined, "a new master promoted");
    const next = host(promote.node);
    const nextMac = await macOf(topology, next);
    let switchedMs = 0;
    await waitFor(async () => {
      const mac = await neighbourOf(client, VIP);
      if (mac === nextMac) switchedMs = Date.now();
      return mac === nextMac;
    }, 5000);
    assert.ok(
      switchedMs > 0,
      "client's neighbour entry points at the new master",
    );
    const failoverMs = promote.atMs - killMs;
    assert.ok(
      switchedMs - promote.atMs <= 1000,
      `neighbour switched ${switchedMs - promote.atMs} ms after the promote`,
    );
    const samples = await loop.done;
    const outage = outageMs(samples, killMs, master);
    assert.ok(
      outage !== null,
      `client saw the new master: ${JSON.stringify(samples.slice(-5))}`,
    );
    assert.ok(
      outage <= failoverMs + 1000,
      `outage ${outage} ms, failover ${failoverMs} ms`,
    );
    console.log(
      `vip failover ${failoverMs} ms, neighbour +${
        switchedMs - promote.atMs
      } ms, client outage ${outage} ms`,
    );

    // Reconcile on the master: a VIP deleted by hand comes back.
    await topology.exec(next, ["ip", "addr", "del", VIP_CIDR, "dev", "eth0"]);
    const deletedMs = Date.now();
    assert.ok(
      await waitFor(
        () => holdsAddress(topology, next, VIP_CIDR),
        RECONCILE_MS + REPAIR_MARGIN_MS,
      ),
      "VIP re-added on the master",
    );
    const readdMs = Date.now() - deletedMs;
    // Reconcile on a backup: a VIP added by hand goes away.
    const backup = host(
      cluster.hosts.find((n) => n !== master && n !== next.name)!,
    );
    await topology.exec(backup, ["ip", "addr", "add", VIP_CIDR, "dev", "eth0"]);
    const addedMs = Date.now();
    assert.ok(
      await waitFor(
        async () => !await holdsAddress(topology, backup, VIP_CIDR),
        RECONCILE_MS + REPAIR_MARGIN_MS,
      ),
      "VIP removed from the backup",
    );
    console.log(
      `reconcile: re-added on master in ${readdMs} ms, removed from backup in ${
        Date.now() - addedMs
      } ms`,
    );

    // The killed node still holds the VIP (kill -9 ran no demote); restarted, it lets go.
    assert.ok(await holdsAddress(topology, host(master), VIP_CIDR));
    cluster.start(master);
    assert.ok(await cluster.waitReady(20_000));
    assert.ok(
      await waitFor(
        async () => !await holdsAddress(topology, host(master), VIP_CIDR),
        5000,
      ),
      "restarted node dropped the VIP",
    );
    // Exactly one host holds the VIP, the master (the restart may cause a
    // new election on a loaded machine: wait for the cluster to settle).
    const holders = async () => {
      const found: string[] = [];
      for (const name of cluster.hosts) {
        if (await holdsAddress(topology, host(name), VIP_CIDR)) {
          found.push(name);
        }
      }
      return found;
    };
    let last: string[] = [];
    const settled = await waitFor(async () => {
      last = await holders();
      const master = cluster.currentMaster();
      return last.length === 1 && last[0] === master;
    }, 5000);
    assert.ok(
      settled,
      `VIP holders ${JSON.stringify(last)}, master ${cluster.currentMaster()}`,
    );
  } catch (error: unknown) {
    for (const name of cluster.hosts) {
      console.error(`--- ${name}\n${cluster.logTail(name, 3000)}`);
    }
    throw error;
  } finally {
    await cluster.close();
    await topology.destroy();
  }
});
