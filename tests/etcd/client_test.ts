/**
 * The etcd client against a real three-member etcd (Debian's etcd-server):
 * KV, transactions, leases, watch streams, endpoint failover and auth.
 */
import assert from "node:assert/strict";
import { EtcdClient, EtcdError } from "../../src/etcd/client.ts";
import { EtcdWatch, type WatchEvent } from "../../src/etcd/watch.ts";
import { runCommand, waitFor } from "../_process.ts";
import { etcdInstalled, startEtcdCluster } from "./_etcd_cluster.ts";

Deno.test({
  name: "etcd client: kv, txn, leases, watch, failover and auth on a real etcd",
  ignore: !etcdInstalled(),
  sanitizeResources: false,
  fn: async (t) => {
    const cluster = await startEtcdCluster();
    // The first endpoint refuses connections: every call fails over.
    const dead = `http://${
      cluster.members[0]!.host.replace(/\.1$/, ".9")
    }:2379`;
    const client = new EtcdClient({ endpoints: [dead, ...cluster.endpoints] });
    try {
      await t.step("put, range by key and prefix, delete", async () => {
        const revision = await client.put("/t/a", "1");
        await client.put("/t/b", "ünï");
        await client.put("/u", "x");
        const one = await client.range("/t/a");
        assert.equal(one.kvs.length, 1);
        assert.equal(one.kvs[0]!.value, "1");
        assert.equal(one.kvs[0]!.createRevision, revision);
        const all = await client.range("/t/", { prefix: true });
        assert.deepEqual(all.kvs.map((kv) => [kv.key, kv.value]), [
          ["/t/a", "1"],
          ["/t/b", "ünï"],
        ]);
        assert.equal(await client.delete("/t/", { prefix: true }), 2);
        assert.equal(
          (await client.range("/t/", { prefix: true })).kvs.length,
          0,
        );
        assert.notEqual(client.endpoint, dead);
      });

      await t.step("txn creates a key only if absent", async () => {
        const create = () =>
          client.txn(
            [{ key: "/m", target: "CREATE", operand: "0" }],
            [{ put: { key: "/m", value: "n1" } }],
            [{ range: { key: "/m" } }],
          );
        const first = await create();
        assert.equal(first.succeeded, true);
        const second = await create();
        assert.equal(second.succeeded, false);
        assert.equal(second.ranges[0]![0]!.value, "n1");
        assert.equal(second.ranges[0]![0]!.createRevision, first.revision);
      });

      await t.step("lease keepalive, revoke deletes bound keys", async () => {
        const lease = await client.leaseGrant(5);
        assert.equal(lease.ttlSec, 5);
        await client.put("/leased", "v", { lease: lease.id });
        assert.equal((await client.range("/leased")).kvs[0]!.lease, lease.id);
        assert.equal(await client.leaseKeepAlive(lease.id), 5);
        await client.leaseRevoke(lease.id);
        assert.equal((await client.range("/leased")).kvs.length, 0);
        assert.equal(await client.leaseKeepAlive(lease.id), 0);
        await client.leaseRevoke(lease.id); // unknown lease: no error
        await assert.rejects(
          () => client.put("/x", "v", { lease: lease.id }),
          (error: unknown) => error instanceof EtcdError && error.code === 5,
        );
      });

      await t.step(
        "watch streams puts and deletes from a revision",
        async () => {
          const start = (await client.range("/w/")).revision + 1;
          const events: WatchEvent[] = [];
          let ended = "";
          const watch = new EtcdWatch(client, "/w/", {
            prefix: true,
            startRevision: start,
          }, {
            onEvents: (batch) => events.push(...batch),
            onEnd: (reason) => ended = reason,
          });
          await client.put("/w/1", "a");
          await client.delete("/w/1");
          await client.put("/other", "b");
          assert.ok(await waitFor(() => events.length >= 2, 5000));
          assert.deepEqual(events.map((e) => [e.type, e.kv.key]), [
            ["put", "/w/1"],
            ["delete", "/w/1"],
          ]);
          watch.close();
          await watch.done;
          assert.equal(ended, "closed");
        },
      );

      await t.step("a watch ends when its member dies", async () => {
        const single = new EtcdClient({ endpoints: [cluster.endpoints[2]!] });
        let ended = "";
        const watch = new EtcdWatch(single, "/w/", { prefix: true }, {
          onEvents: () => {},
          onEnd: (reason) => ended = reason,
        });
        await single.put("/w/2", "x"); // the stream is open once this returns
        await cluster.kill(2);
        assert.ok(await waitFor(() => ended !== "", 5000), "watch did not end");
        assert.notEqual(ended, "closed");
        await watch.done;
        single.close();
        cluster.start(2);
        await cluster.waitReady();
      });

      await t.step("username and password_file auth", async () => {
        const ep = cluster.endpoints.join(",");
        for (
          const args of [
            ["user", "add", "root:rootpw"],
            ["user", "grant-role", "root", "root"],
            ["auth", "enable"],
          ]
        ) {
          const result = await runCommand([
            "etcdctl",
            `--endpoints=${ep}`,
            ...args,
          ], {
            env: { ETCDCTL_API: "3" },
          });
          assert.equal(result.code, 0, result.stderr);
        }
        const anonymous = new EtcdClient({ endpoints: cluster.endpoints });
        await assert.rejects(() => anonymous.range("/m"), EtcdError);
        anonymous.close();
        const authed = new EtcdClient({
          endpoints: [dead, ...cluster.endpoints],
          username: "root",
          password: "rootpw",
        });
        assert.equal((await authed.range("/m")).kvs[0]!.value, "n1");
        const wrong = new EtcdClient({
          endpoints: cluster.endpoints,
          username: "root",
          password: "nope",
        });
        await assert.rejects(() => wrong.range("/m"), /authentication failed/);
        wrong.close();
        authed.close();
      });
    } finally {
      client.close();
      await cluster.stop();
    }
  },
});
