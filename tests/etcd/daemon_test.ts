/**
 * `clustd run` with `backend: etcd`, three real daemons with no mesh links
 * to each other against a real three-member etcd: election, switchover,
 * drain, undrain, pause and resume through the CLI, kill -9 of the master (a new master within the
 * TTL plus stated bounds, fencing token larger), never two masters.
 */
import assert from "node:assert/strict";
import { overlaps, sleep, TestCluster } from "../e2e/_cluster.ts";
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
    "clustd with backend etcd: CLI switchover, drain, pause, resume, kill -9 failover, one master",
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
      // Daemons start up at different speeds, so the first master is
      // whichever ranked best among those up (ranking itself is tested in
      // backend_test.ts); the steps below follow from it.
      let first = "";
      let target = "";
      /** Every kill -9 so far: a killed master's interval ends there. */
      const kills = new Map<string, number[]>();
      await t.step(
        "one master; every node sees it and all members",
        async () => {
          const promotes = await cluster.waitForPromotes(1, 15_000);
          first = promotes[0]?.node ?? "";
          assert.notEqual(first, "", cluster.logOf("a"));
          for (const id of ["a", "b", "c"]) {
            assert.ok(
              await cluster.waitFor(async () => {
                const status = await cluster.status(id);
                const members = status?.["members"] as unknown[] | undefined;
                return status?.["master"] === first && members?.length === 3;
              }, 5000),
              JSON.stringify(await cluster.status(id)),
            );
          }
          assert.equal((await cluster.status(first))?.["role"], "master");
        },
      );

      await t.step("clustd switchover --to through the CLI", async () => {
        target = first === "c" ? "b" : "c";
        const result = await cli([
          "switchover",
          "--config",
          config(first),
          "--to",
          target,
        ]);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        const promotes = await cluster.waitForPromotes(2, 5000);
        assert.equal(promotes[1]?.node, target);
        assert.ok(promotes[1]!.term > promotes[0]!.term);
        const demote = cluster.hooks().find((h) =>
          h.node === first && h.event === "demote" &&
          h.term === promotes[0]!.term
        );
        assert.ok(
          demote !== undefined && demote.atMs <= promotes[1]!.atMs,
          "the old master demoted before the new one promoted",
        );
      });

      await t.step(
        "clustd drain on the master hands over to the best other",
        async () => {
          const result = await cli(["drain", "--config", config(target)]);
          assert.equal(result.code, 0, result.stdout + result.stderr);
          const promotes = await cluster.waitForPromotes(3, 5000);
          assert.equal(promotes[2]?.node, "a");
          assert.equal((await cluster.status(target))?.["eligible"], false);
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
          // The drained node never takes over.
          assert.equal(next.node, target === "b" ? "c" : "b");
          assert.ok(
            next.term > before.term,
            `token ${next.term} ≤ ${before.term}`,
          );
          const tookMs = next.atMs - killedAt;
          console.log(`etcd backend: kill -9 to promote hook ${tookMs} ms`);
          assert.ok(tookMs < FAILOVER_BOUND_MS, `failover took ${tookMs} ms`);
          kills.set(before.node, [killedAt]);
          assert.deepEqual(overlaps(cluster.hooks(), kills), []);
        },
      );

      await t.step(
        "clustd pause: a dead master is not replaced until clustd resume",
        async () => {
          const master = cluster.promotes().at(-1)!.node;
          const undrain = await cli(["undrain", "--config", config(target)]);
          assert.equal(undrain.code, 0, undrain.stdout + undrain.stderr);
          const pause = await cli(["pause", "--config", config(target)]);
          assert.equal(pause.code, 0, pause.stdout + pause.stderr);
          assert.match(pause.stdout + pause.stderr, /paused the cluster/);
          assert.ok(
            await cluster.waitFor(
              async () => (await cluster.status(master))?.["paused"] === true,
              5000,
            ),
            "the master does not see the pause",
          );
          const count = cluster.promotes().length;
          const killedAt = await cluster.signal(master, "SIGKILL");
          await sleep(FAILOVER_BOUND_MS);
          assert.equal(
            cluster.promotes().length,
            count,
            "failover while paused",
          );
          const resume = await cli(["resume", "--config", config(target)]);
          assert.equal(resume.code, 0, resume.stdout + resume.stderr);
          const promotes = await cluster.waitForPromotes(
            count + 1,
            FAILOVER_BOUND_MS,
          );
          assert.equal(promotes[count]?.node, target);
          kills.set(master, [killedAt]);
          assert.deepEqual(overlaps(cluster.hooks(), kills), []);
        },
      );
    } finally {
      await cluster.close();
      await etcd.stop();
    }
  },
});
