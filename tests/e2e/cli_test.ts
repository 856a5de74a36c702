/**
 * The CLI against a running cluster, as an operator uses it: status table,
 * switchover, drain, refusals with reasons, wrong secret.
 */

import assert from "node:assert/strict";
import { randomKey, runClustd as cli } from "../_process.ts";
import { sleep, TestCluster } from "./_cluster.ts";

Deno.test("clustd status, switchover, drain and refusals against a live cluster", async (t) => {
  const cluster = TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: 400,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
      { id: "w1", role: "witness" },
    ],
  });
  const config = (id: string) => cluster.nodes.get(id)!.configPath;
  const url = (id: string) => `ws://127.0.0.1:${cluster.nodes.get(id)!.port}`;
  try {
    cluster.startAll();
    const first = await cluster.waitForPromotes(1, 15_000);
    assert.equal(first.length, 1, "a master after cold start");
    await sleep(500);
    const master = first[0]!.node;
    const other = ["n1", "n2", "n3"].find((id) => id !== master)!;

    await t.step(
      "status shows every member in a table and as JSON",
      async () => {
        const table = await cli(["status", "--config", config("n1")]);
        assert.equal(table.code, 0, table.stderr);
        for (const id of ["n1", "n2", "n3", "w1"]) {
          assert.match(table.stdout, new RegExp(`^${id}\\s`, "m"));
        }
        assert.match(table.stdout, new RegExp(`master ${master}\\b`));
        const json = await cli([
          "status",
          "--json",
          "--config",
          config("n1"),
          "--node",
          url("w1"),
        ]);
        assert.equal(json.code, 0, json.stderr);
        const status = JSON.parse(json.stdout);
        assert.equal(status.asked, "w1");
        assert.equal(status.members.length, 4);
        for (const member of status.members) {
          assert.equal(member.view?.master, master, member.id);
        }
        const local = await cli([
          "status",
          "--local",
          "--json",
          "--config",
          config("n1"),
        ]);
        assert.equal(local.code, 0, local.stderr);
        const own = JSON.parse(local.stdout);
        assert.equal(own.id, "n1");
        assert.equal(own.master, master);
        assert.equal(own.members.length, 4);
      },
    );

    await t.step(
      "switchover to a witness or an unknown id is refused with a reason",
      async () => {
        const witness = await cli([
          "switchover",
          "--to",
          "w1",
          "--config",
          config(master),
        ]);
        assert.equal(witness.code, 1);
        assert.match(witness.stderr, /refused: .*w1/);
        const unknown = await cli([
          "switchover",
          "--to",
          "nope",
          "--config",
          config(master),
        ]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /refused: .*nope/);
      },
    );

    await t.step("a wrong secret is refused", async () => {
      const wrong = `${cluster.dir}/wrong.yml`;
      Deno.writeTextFileSync(`${cluster.dir}/wrong-secret`, randomKey(), {
        mode: 0o600,
      });
      Deno.writeTextFileSync(
        wrong,
        Deno.readTextFileSync(config("n1")).replace(
          `${cluster.dir}/secret`,
          `${cluster.dir}/wrong-secret`,
        ),
      );
      const result = await cli(["status", "--config", wrong]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /authentication failed/);
    });

    await t.step(
      "switchover --to moves mastership; the old demote hook ran first",
      async () => {
        const before = cluster.promotes().length;
        const result = await cli([
          "switchover",
          "--to",
          other,
          "--config",
          config(master),
        ]);
        assert.equal(result.code, 0, result.stderr);
        const promotes = await cluster.waitForPromotes(before + 1, 5000);
        assert.equal(promotes.length, before + 1);
        assert.equal(promotes.at(-1)!.node, other);
        const demote = cluster.hooks().findLast((h) =>
          h.node === master && h.event === "demote"
        );
        assert.ok(demote !== undefined && demote.atMs <= promotes.at(-1)!.atMs);
      },
    );

    await t.step(
      "drain on the master hands over; undrain makes it eligible again",
      async () => {
        const before = cluster.promotes().length;
        const result = await cli(["drain", "--config", config(other)]);
        assert.equal(result.code, 0, result.stderr);
        const promotes = await cluster.waitForPromotes(before + 1, 5000);
        assert.equal(promotes.length, before + 1);
        assert.notEqual(promotes.at(-1)!.node, other);
        const status = await cluster.status(other);
        assert.equal(status?.["eligible"], false);
        assert.equal(status?.["drained"], true);
        const undrain = await cli(["undrain", "--config", config(other)]);
        assert.equal(undrain.code, 0, undrain.stderr);
        const eligible = await cluster.waitFor(
          async () => (await cluster.status(other))?.["eligible"] === true,
          3000,
        );
        assert.ok(eligible);
      },
    );
  } finally {
    await cluster.close();
  }
});
