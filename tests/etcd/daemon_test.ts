/**
 * `clustd run` with `backend: etcd`, three real daemons with no mesh links
 * to each other against a real three-member etcd: election, switchover and
 * drain through the CLI, kill -9 of the master (a new master within the
 * TTL plus stated bounds, fencing token larger), never two masters.
 */
import assert from "node:assert/strict";
import { overlaps, TestCluster } from "../e2e/_cluster.ts";
import { runClustd } from "../_process.ts";
import { etcdInstalled, startEtcdCluster } from "./_etcd_cluster.ts";

/** etcd lease TTL of the test nodes. */
const TTL_MS = 1000;
/**
 * kill -9 to the new master's promote hook: the TTL, etcd's 500 ms expiry
 * sweep, Δ·rank, round trips and a hook run, with a generous 2 s margin for
 * a loaded machine.
 */
const FAILOVER_BOUND_MS = TTL_MS + 500 + 2000;

Deno.test({
  name:
    "clustd with backend etcd: CLI switchover and drain, kill -9 failover, one master",
  ignore: !etcdInstalled(),
  sanitizeResources: false,
  fn: async (t) => {
    const etcd = await startEtcdCluster();
    const prefix = `/clustd/e2e${Math.floor(Math.random() * 1e6)}`;
    const cluster = TestCluster.create({
      nodes: [
        { id: "a", priority: 100 },
        { id: "b", priority: 90 },
        { id: "c", priority: 80 },
      ],
      meshPeers: false,
      extraCluster: `  backend: etcd
  etcd:
    endpoints: [${etcd.endpoints.join(", ")}]
    prefix: ${prefix}
    ttl_ms: ${TTL_MS}`,
    });
    const config = (id: string) => cluster.nodes.get(id)!.configPath;
    const cli = (args: string[]) => runClustd(args);
    try {
      cluster.startAll();
      await t.step(
        "the best-ranked node becomes master; others see it",
        async () => {
          const promotes = await cluster.waitForPromotes(1, 15_000);
          assert.equal(promotes[0]?.node, "a", cluster.logOf("a"));
          assert.ok(
            await cluster.waitFor(async () => {
              const status = await cluster.status("c");
              const members = status?.["members"] as unknown[] | undefined;
              return status?.["master"] === "a" && members?.length === 3;
            }, 5000),
            JSON.stringify(await cluster.status("c")),
          );
          const status = await cluster.status("a");
          assert.equal(status?.["role"], "master");
        },
      );

      await t.step("clustd switchover --to c through the CLI", async () => {
        const result = await cli([
          "switchover",
          "--config",
          config("a"),
          "--to",
          "c",
        ]);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        const promotes = await cluster.waitForPromotes(2, 5000);
        assert.equal(promotes[1]?.node, "c");
        assert.ok(promotes[1]!.term > promotes[0]!.term);
        const demoteA = cluster.hooks().find((h) =>
          h.node === "a" && h.event === "demote" && h.term === promotes[0]!.term
        );
        assert.ok(
          demoteA !== undefined && demoteA.atMs <= promotes[1]!.atMs,
          "a demoted before c promoted",
        );
      });

      await t.step(
        "clustd drain on the master hands over to the best other",
        async () => {
          const result = await cli(["drain", "--config", config("c")]);
          assert.equal(result.code, 0, result.stdout + result.stderr);
          const promotes = await cluster.waitForPromotes(3, 5000);
          assert.equal(promotes[2]?.node, "a");
          assert.equal((await cluster.status("c"))?.["eligible"], false);
        },
      );

      await t.step(
        "kill -9 the master: new master within the bound, token larger",
        async () => {
          const before = cluster.promotes().at(-1)!;
          const killedAt = await cluster.signal(before.node, "SIGKILL");
          const promotes = await cluster.waitForPromotes(
            4,
            FAILOVER_BOUND_MS + 2000,
          );
          const next = promotes[3];
          assert.ok(next !== undefined, "no new master");
          assert.equal(next.node, "b");
          assert.ok(
            next.term > before.term,
            `token ${next.term} ≤ ${before.term}`,
          );
          const tookMs = next.atMs - killedAt;
          assert.ok(tookMs < FAILOVER_BOUND_MS, `failover took ${tookMs} ms`);
          const clash = overlaps(
            cluster.hooks(),
            new Map([[before.node, [killedAt]]]),
          );
          assert.deepEqual(clash, []);
        },
      );
    } finally {
      await cluster.close();
      await etcd.stop();
    }
  },
});
