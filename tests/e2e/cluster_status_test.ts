/**
 * `clustd status` across five real nodes: every member's own view from each
 * node, an unreachable member marked while the rest still print; and
 * `clustd history` after three failovers and a switchover, in order with
 * reasons, also after the asked node restarts.
 */

import assert from "node:assert/strict";
import { runClustd as cli } from "../_process.ts";
import { sleep, TestCluster } from "./_cluster.ts";

const IDS = ["n1", "n2", "n3", "n4", "n5"];

function fiveNodes(): TestCluster {
  return TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: 400,
    nodes: IDS.map((id, i) => ({ id, priority: 100 - i * 10 })),
  });
}

async function statusJson(cluster: TestCluster, id: string) {
  const result = await cli([
    "status",
    "--json",
    "--config",
    cluster.nodes.get(id)!.configPath,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    asked: string;
    members: {
      id: string;
      view: Record<string, unknown> | null;
      error: string | null;
    }[];
    disagreements: string[];
  };
}

Deno.test("status from each of five nodes shows all five members' own views; a killed one is marked unreachable", async () => {
  const cluster = fiveNodes();
  try {
    cluster.startAll();
    const first = await cluster.waitForPromotes(1, 20_000);
    assert.equal(first.length, 1, "a master after cold start");
    const master = first[0]!.node;
    await sleep(600);
    for (const asked of IDS) {
      const status = await statusJson(cluster, asked);
      assert.equal(status.asked, asked);
      assert.deepEqual(status.members.map((m) => m.id), IDS);
      for (const member of status.members) {
        const view = member.view;
        assert.ok(view !== null, `${asked}: ${member.id}: ${member.error}`);
        // Each row is the member's own view, not the asked node's.
        assert.equal(view["id"], member.id);
        assert.equal(view["master"], master, `${member.id} follows`);
        assert.equal(view["role"], member.id === master ? "master" : "backup");
        assert.equal((view["connected"] as string[]).length, 4);
        for (const key of ["term", "lease_remaining_ms", "uptime_ms"]) {
          assert.equal(typeof view[key], "number", key);
        }
        assert.equal(view["paused"], false);
        assert.equal(typeof view["version"], "string");
      }
      assert.deepEqual(status.disagreements, []);
    }
    const table = await cli([
      "status",
      "--config",
      cluster.nodes.get("n3")!.configPath,
    ]);
    assert.equal(table.code, 0, table.stderr);
    for (const id of IDS) {
      assert.match(
        table.stdout,
        new RegExp(`^${id}\\s+(master|backup)\\s`, "m"),
      );
    }

    const victim = IDS.find((id) => id !== master && id !== "n3")!;
    await cluster.signal(victim, "SIGKILL");
    const after = await statusJson(cluster, "n3");
    const dead = after.members.find((m) => m.id === victim)!;
    assert.equal(dead.view, null);
    assert.match(dead.error ?? "", /unreachable/);
    assert.equal(after.members.filter((m) => m.view !== null).length, 4);
    const text = await cli([
      "status",
      "--config",
      cluster.nodes.get("n3")!.configPath,
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^${victim}\\s+\\?.*unreachable`, "m"),
    );
    assert.match(text.stdout, new RegExp(`^${master}\\s+master\\s`, "m"));
  } finally {
    await cluster.close();
  }
});

Deno.test("history lists three failovers and a switchover in order with reasons, also after a restart", async () => {
  const cluster = fiveNodes();
  const config = (id: string) => cluster.nodes.get(id)!.configPath;
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, 20_000);
    assert.equal(promotes.length, 1);
    const masters = [promotes[0]!.node];
    // Three failovers: kill -9 the master, wait for the next, restart the old.
    for (let i = 0; i < 3; i++) {
      const old = masters.at(-1)!;
      await cluster.signal(old, "SIGKILL");
      const next = await cluster.waitForPromotes(i + 2, 10_000);
      assert.equal(next.length, i + 2, `failover ${i + 1}`);
      masters.push(next.at(-1)!.node);
      cluster.start(old);
      await sleep(800);
    }
    const from = masters.at(-1)!;
    const to = IDS.find((id) => id !== from)!;
    const asked = IDS.find((id) => id !== from && id !== to)!;
    const switched = await cli([
      "switchover",
      "--to",
      to,
      "--config",
      config(asked),
    ]);
    assert.equal(switched.code, 0, switched.stderr);
    await cluster.waitForPromotes(5, 10_000);
    await sleep(300);

    const check = async () => {
      const result = await cli([
        "history",
        "--json",
        "--config",
        config(asked),
      ]);
      assert.equal(result.code, 0, result.stderr);
      const history = JSON.parse(result.stdout) as {
        entries: {
          node: string;
          from: string;
          to: string;
          reason: string;
          term: number;
          time: string;
        }[];
      };
      const promotions = history.entries.filter((e) => e.to === "master");
      assert.deepEqual(promotions.map((e) => e.node), [...masters, to]);
      const terms = promotions.map((e) => e.term);
      assert.deepEqual(terms, [...terms].sort((a, b) => a - b));
      const handover = history.entries.find((e) =>
        e.node === from && e.from === "master" && e.to === "backup"
      );
      assert.equal(handover?.reason, "switchover");
      const times = history.entries.map((e) => e.time);
      assert.deepEqual(times, [...times].sort());
      for (const e of history.entries) {
        assert.ok(e.reason !== "", JSON.stringify(e));
      }
      const table = await cli(["history", "--config", config(asked)]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /TIME\s+TERM\s+NODE\s+FROM\s+TO\s+REASON/);
      assert.match(table.stdout, /switchover/);
    };
    await check();
    await cluster.signal(asked, "SIGTERM");
    cluster.start(asked);
    await sleep(1500);
    await check();
  } finally {
    await cluster.close();
  }
});
