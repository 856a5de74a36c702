/**
 * Control from any node and maintenance mode, on real processes:
 * switchover and drain issued on a backup take effect on the master; every
 * refusal names its reason; `clustd pause` stops failover cluster-wide (a
 * killed master is not replaced within 3·E), `resume` elects a master within
 * the liveness bound, and the pause survives a restart of every node.
 */

import assert from "node:assert/strict";
import { runClustd as cli } from "../_process.ts";
import { sleep, TestCluster } from "./_cluster.ts";

const H = 100;
const E = 400;

Deno.test("switchover and drain from a backup reach the master; refusals say why", async (t) => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
      { id: "n4", priority: 0 },
      { id: "w1", role: "witness" },
    ],
  });
  const config = (id: string) => cluster.nodes.get(id)!.configPath;
  const run = (args: string[], on: string) =>
    cli([...args, "--config", config(on)]);
  const masterNow = async () =>
    (await cluster.status("n4"))?.["master"] as string | null;
  try {
    cluster.startAll();
    const first = await cluster.waitForPromotes(1, 20_000);
    assert.equal(first.length, 1);
    await sleep(500);
    // Who is master now (a loaded machine may already have re-elected).
    assert.ok(
      await cluster.waitFor(async () => await masterNow() !== null, 5000),
    );
    let master = (await masterNow())!;
    const backup = () => ["n1", "n2", "n3"].find((id) => id !== master)!;

    await t.step("switchover issued on a backup moves the master", async () => {
      const before = cluster.promotes().length;
      const result = await run(["switchover"], backup());
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(`^${master}: handed over to`),
        result.stdout + result.stderr,
      );
      const promotes = await cluster.waitForPromotes(before + 1, 5000);
      assert.equal(promotes.length, before + 1);
      assert.notEqual(
        promotes.at(-1)!.node,
        master,
        `${result.stdout}\n${Deno.readTextFileSync(cluster.hookLog)}`,
      );
      master = promotes.at(-1)!.node;
      await cluster.waitFor(async () => await masterNow() === master, 3000);
    });

    await t.step(
      "drain of the master issued on a backup hands over",
      async () => {
        const before = cluster.promotes().length;
        const drained = master;
        const result = await run(["drain", drained], backup());
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^${drained}: `));
        const promotes = await cluster.waitForPromotes(before + 1, 5000);
        assert.equal(promotes.length, before + 1);
        master = promotes.at(-1)!.node;
        assert.notEqual(master, drained);
        const status = await cluster.status(drained);
        assert.equal(status?.["drained"], true);
        assert.deepEqual(status?.["ineligible"], ["drained"]);
        await cluster.waitFor(async () => await masterNow() === master, 3000);

        // The drained node is now a refused target, with the reason.
        const refused = await run(["switchover", "--to", drained], "n4");
        assert.equal(refused.code, 1);
        assert.match(
          refused.stderr,
          new RegExp(`"${drained}" is not eligible: drained`),
        );
        const undrain = await run(["undrain", drained], "w1");
        assert.equal(undrain.code, 0, undrain.stderr);
        assert.match(undrain.stdout, /undrained/);
        assert.ok(
          await cluster.waitFor(
            async () => (await cluster.status(drained))?.["eligible"] === true,
            3000,
          ),
        );
      },
    );

    await t.step("each refusal prints its reason", async () => {
      const cases: [string[], RegExp][] = [
        [["switchover", "--to", "w1"], /"w1" is a witness/],
        [["switchover", "--to", "n4"], /"n4" has priority 0/],
        [
          ["switchover", "--to", master],
          new RegExp(`"${master}" is already master`),
        ],
        [["switchover", "--to", "nope"], /"nope" is not a member/],
        [["drain", "nope"], /"nope" is not a member/],
      ];
      for (const [args, reason] of cases) {
        const result = await run(args, "w1");
        assert.equal(result.code, 1, `${args.join(" ")}: ${result.stdout}`);
        assert.match(result.stderr, /refused: /);
        assert.match(result.stderr, reason, args.join(" "));
      }
    });

    await t.step("no quorum is named as the reason", async () => {
      const others = ["n1", "n2", "n3"].filter((id) => id !== master);
      await cluster.signal(master, "SIGKILL");
      await cluster.signal(others[0]!, "SIGKILL");
      await cluster.signal("n4", "SIGKILL");
      await sleep(2 * E);
      const result = await run(["switchover"], others[1]!);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /refused: no quorum: .* sees 2 of 5 members/);
    });
  } finally {
    await cluster.close();
  }
});

Deno.test("pause: a killed master is not replaced within 3·E; resume elects one; pause survives restarting every node", async () => {
  const ids = ["n1", "n2", "n3"];
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: ids.map((id, i) => ({ id, priority: 100 - i * 10 })),
  });
  const config = (id: string) => cluster.nodes.get(id)!.configPath;
  try {
    cluster.startAll();
    const first = await cluster.waitForPromotes(1, 20_000);
    assert.equal(first.length, 1);
    await sleep(500);
    const master = first[0]!.node;
    const backups = ids.filter((id) => id !== master);

    const paused = await cli(["pause", "--config", config(backups[0]!)]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /paused the cluster/);
    for (const id of ids) {
      assert.ok(
        await cluster.waitFor(
          async () => (await cluster.status(id))?.["paused"] === true,
          2000,
        ),
        `${id} paused`,
      );
    }
    const metrics = await fetch(
      `http://127.0.0.1:${cluster.nodes.get(master)!.port}/metrics`,
    ).then((r) => r.text());
    assert.match(metrics, /^clustd_paused 1$/m);
    assert.match(metrics, /^clustd_lease_remaining_seconds 0\.\d+$/m);
    const history = await fetch(
      `http://127.0.0.1:${cluster.nodes.get(master)!.port}/history`,
    ).then((r) => r.json()) as { node: string; to: string; reason: string }[];
    assert.deepEqual(
      history.map((e) => `${e.node} ${e.to} ${e.reason}`),
      [`${master} backup start`, `${master} master elected`],
    );
    const probe = await fetch(
      `http://127.0.0.1:${cluster.nodes.get(master)!.port}/master`,
    );
    assert.equal(probe.status, 200);
    assert.match(await probe.text(), /paused/);

    // The master keeps its role while paused.
    await sleep(3 * E);
    assert.equal((await cluster.status(master))?.["role"], "master");

    const killedAt = await cluster.signal(master, "SIGKILL");
    await sleep(3 * E);
    const during = cluster.promotes().filter((p) => p.atMs >= killedAt);
    assert.deepEqual(during, [], "nobody promoted while paused");
    for (const id of backups) {
      assert.equal((await cluster.status(id))?.["master"], null);
    }

    const resumeAt = Date.now();
    const resumed = await cli(["resume", "--config", config(backups[1]!)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const promotes = await cluster.waitForPromotes(2, 5000);
    assert.equal(promotes.length, 2, "a master after resume");
    const tookMs = promotes[1]!.atMs - resumeAt;
    // Liveness bound E + rank·Δ + 2·RTT, with a wide margin for a loaded
    // machine and the CLI's own start-up (~0.5 s) inside the measurement.
    assert.ok(tookMs < E + 2000, `master ${tookMs} ms after resume`);

    // Pause, restart every node: all come back paused, none campaigns.
    cluster.start(master);
    await sleep(1000);
    const again = await cli(["pause", "--config", config(master)]);
    assert.equal(again.code, 0, again.stderr);
    await sleep(300);
    for (const id of ids) await cluster.signal(id, "SIGTERM");
    const restartAt = Date.now();
    for (const id of ids) cluster.start(id);
    for (const id of ids) {
      assert.ok(
        await cluster.waitFor(
          async () => (await cluster.status(id))?.["paused"] === true,
          10_000,
        ),
        `${id} still paused after restart`,
      );
    }
    await sleep(3 * E);
    const afterRestart = cluster.promotes().filter((p) => p.atMs >= restartAt);
    assert.deepEqual(afterRestart, [], "no campaign while paused");
    const status = await cli(["status", "--config", config("n2")]);
    assert.match(status.stdout, /PAUSED/);
    const last = await cli(["resume", "--config", config("n2")]);
    assert.equal(last.code, 0, last.stderr);
    // Count only promotes after the restart: stopping the nodes one by one
    // may hand over (SIGTERM still does while paused) before the restart.
    const sinceRestart = () =>
      cluster.promotes().filter((p) => p.atMs >= restartAt);
    await cluster.waitFor(() => sinceRestart().length >= 1, 5000);
    await sleep(E);
    assert.equal(sinceRestart().length, 1, "one master after the last resume");
  } finally {
    await cluster.close();
  }
});
