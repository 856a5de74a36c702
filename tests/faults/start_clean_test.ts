/**
 * One holder of the resource, at the edges where the election touches the
 * machine (issue 10), with real `clustd run` daemons in network namespaces:
 * - a master holding a VIP is killed with -9 and restarted (systemd's
 *   Restart=on-failure): its drivers are told `demote` with reason `start`
 *   before it may campaign, and `ip addr` then shows the VIP on one host;
 * - configs name no peer priorities: every node advertises its own, and
 *   after each of 10 kills the surviving node of the highest advertised
 *   priority becomes master.
 * Timings h = 100 ms, E = 400 ms. Needs root, `ip` and `nft` (skipped
 * otherwise); everything is torn down, also on failure.
 */
import assert from "node:assert/strict";
import { clustdArgv, ROOT, sleep } from "../_process.ts";
import type { HookLine } from "../_hook_log.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import {
  HOST_IFACE,
  SUBNET_BITS,
  topologySupported,
  VIP_ADDRESS,
} from "../netns/_topology.ts";
import { MASTER_MS, READY_MS } from "./_timing.ts";

const supported = await topologySupported();
const H = 100;
const E = 400;
/** The start demote sleeps this long, so "eligible only after it" shows. */
const START_DEMOTE_MS = 600;
const VIP = `${VIP_ADDRESS}/${SUBNET_BITS}`;
/** Longest wait for a restarted node to finish its start demote. */
const START_DONE_MS = 15_000;
const START_DONE_LINE =
  /^(\S+) +\S+ +daemon: start demote (finished|timed out)/;

/** The hook of a VIP driver (as drivers/examples/vip.sh does, without ARP). */
const VIP_HOOK = `if [ "$CLUSTD_EVENT" = promote ]; then
  ip addr replace ${VIP} dev ${HOST_IFACE}
else
  [ "$CLUSTD_REASON" = start ] && sleep ${START_DEMOTE_MS / 1000}
  ip addr del ${VIP} dev ${HOST_IFACE} 2>/dev/null
fi
exit 0`;

function report(cluster: ClustdNetnsCluster, message: string): string {
  const logs = cluster.hosts.map((n) =>
    `--- ${n}\n${cluster.logTail(n, 2500)}`
  );
  return `${message}\nhooks:\n${Deno.readTextFileSync(cluster.hookLogPath)}\n${
    logs.join("\n")
  }`;
}

/** Hosts whose eth0 carries the VIP now. */
async function vipHolders(cluster: ClustdNetnsCluster): Promise<string[]> {
  const holders: string[] = [];
  for (const host of cluster.hosts) {
    const result = await cluster.topology.exec(host, [
      "ip",
      "-o",
      "-4",
      "addr",
      "show",
      "dev",
      HOST_IFACE,
    ]);
    if (result.stdout.includes(` ${VIP} `)) holders.push(host);
  }
  return holders;
}

/** Wall-clock ms of the node's "start demote finished" line after `sinceMs`. */
function startDoneMs(
  cluster: ClustdNetnsCluster,
  host: string,
  sinceMs: number,
) {
  for (const line of cluster.logOf(host).split("\n")) {
    const match = START_DONE_LINE.exec(line);
    const atMs = match === null ? NaN : Date.parse(match[1] ?? "");
    if (atMs >= sinceMs) return atMs;
  }
  return null;
}

async function withCluster(
  options: { priorities?: Record<string, number>; hook?: string },
  body: (cluster: ClustdNetnsCluster) => Promise<void>,
): Promise<void> {
  const cluster = await ClustdNetnsCluster.createWithTopology({
    nodes: 3,
    heartbeatMs: H,
    electionTimeoutMs: E,
    ...(options.priorities === undefined
      ? {}
      : { priorities: options.priorities }),
    ...(options.hook === undefined ? {} : { hook: { extra: options.hook } }),
  });
  try {
    cluster.startAll();
    assert.ok(await cluster.waitReady(READY_MS), report(cluster, "not ready"));
    const master = await cluster.waitForMaster(MASTER_MS);
    assert.ok(master !== null, report(cluster, "no first master"));
    await body(cluster);
  } finally {
    await cluster.close();
  }
}

/** Restarts `host` and waits until its start demote finished, plus `settleMs`. */
async function restart(
  cluster: ClustdNetnsCluster,
  host: string,
  settleMs: number,
): Promise<number> {
  const restartMs = Date.now();
  cluster.start(host);
  assert.ok(await cluster.waitReady(READY_MS), report(cluster, "not ready"));
  const done = await cluster.waitFor(
    () => startDoneMs(cluster, host, restartMs) !== null,
    START_DONE_MS,
  );
  assert.ok(done, report(cluster, `${host}: no start demote logged`));
  await sleep(settleMs);
  return restartMs;
}

function promotesAfter(cluster: ClustdNetnsCluster, atMs: number): HookLine[] {
  return cluster.hooks().filter((h) => h.event === "promote" && h.atMs >= atMs);
}

Deno.test({
  name:
    "a master killed with -9 while holding a VIP demotes (reason start) before it is eligible again; the VIP ends on one host",
  ignore: !supported,
  fn: () =>
    withCluster({ hook: VIP_HOOK }, async (cluster) => {
      const old = cluster.currentMaster() ?? "";
      assert.deepEqual(await vipHolders(cluster), [old]);
      const killMs = await cluster.kill(old);
      const next = await cluster.waitFor(
        () => promotesAfter(cluster, killMs).length > 0,
        MASTER_MS,
      );
      assert.ok(next, report(cluster, "no new master after the kill"));
      const newMaster = promotesAfter(cluster, killMs)[0]?.node ?? "";
      // kill -9 left the VIP on the dead master's host: two hold it now,
      // which is what the start demote repairs.
      let holders: string[] = [];
      for (let i = 0; i < 50 && holders.length < 2; i++) {
        holders = await vipHolders(cluster);
        if (holders.length < 2) await sleep(H);
      }
      assert.deepEqual(holders, [old, newMaster].sort());
      const restartMs = await restart(cluster, old, 2 * H);
      const mine = cluster.hooks().filter((h) =>
        h.node === old && h.atMs >= restartMs
      );
      assert.equal(mine[0]?.event, "demote", report(cluster, "first hook"));
      assert.equal(mine[0]?.reason, "start", report(cluster, "reason"));
      const doneMs = startDoneMs(cluster, old, restartMs) ?? 0;
      // The core was told only after the hook (with its sleep) ended.
      assert.ok(
        doneMs >= (mine[0]?.atMs ?? Infinity) + START_DEMOTE_MS - 50,
        report(
          cluster,
          `eligible ${
            doneMs - (mine[0]?.atMs ?? 0)
          } ms after the start demote began`,
        ),
      );
      assert.match(
        cluster.logOf(old),
        /election: start_demote_done .*eligible=true/,
      );
      assert.ok(!mine.some((h) => h.event === "promote" && h.atMs < doneMs));
      assert.deepEqual(await vipHolders(cluster), [newMaster]);
      assert.equal(cluster.currentMaster(), newMaster);
    }),
});

Deno.test({
  name:
    "three nodes whose configs name no peer priority: after each of 10 kills the survivor of the highest advertised priority becomes master",
  ignore: !supported,
  fn: () =>
    // Not in id order, so neither the id tie-break nor a default priority
    // for unheard peers can pick the right survivor by accident.
    withCluster(
      { priorities: { n1: 50, n2: 200, n3: 120 } },
      async (cluster) => {
        const advertised = await advertisedPriorities(cluster);
        assert.deepEqual({ ...advertised }, { n1: 50, n2: 200, n3: 120 });
        for (let round = 1; round <= 10; round++) {
          const master = await cluster.waitForMaster(MASTER_MS);
          assert.ok(master !== null, report(cluster, `round ${round}: master`));
          const survivors = cluster.hosts.filter((h) => h !== master);
          const expected: string = survivors.reduce((best, h) =>
            (advertised[h] ?? 0) > (advertised[best] ?? 0) ? h : best
          );
          const killMs = await cluster.kill(master);
          const elected = await cluster.waitFor(
            () => promotesAfter(cluster, killMs).length > 0,
            MASTER_MS,
          );
          assert.ok(elected, report(cluster, `round ${round}: no new master`));
          assert.equal(
            promotesAfter(cluster, killMs)[0]?.node,
            expected,
            report(cluster, `round ${round}: killed ${master}`),
          );
          // Back as a backup, eligible and heard by everyone before the next kill.
          await restart(cluster, master, E + 2 * H);
        }
      },
    ),
});

/** Each member's priority as `clustd status --local --json` on n1 shows it (advertised). */
async function advertisedPriorities(
  cluster: ClustdNetnsCluster,
): Promise<Record<string, number | null>> {
  const config = `${cluster.dir}/n1.yml`;
  let last = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    // From the repo root, where deno.json names the permission set.
    const result = await cluster.topology.exec("n1", [
      "/bin/sh",
      "-c",
      `cd ${ROOT} && exec "$@"`,
      "sh",
      ...clustdArgv(["status", "--local", "--json", "--config", config]),
    ]);
    last = result.stdout + result.stderr;
    if (result.code === 0) {
      const status = JSON.parse(result.stdout) as {
        members: { id: string; priority: number | null }[];
      };
      const out: Record<string, number | null> = {};
      for (const m of status.members) out[m.id] = m.priority;
      if (Object.values(out).every((p) => p !== null)) return out;
    }
    await sleep(H);
  }
  throw new Error(`clustd status never showed every priority: ${last}`);
}
