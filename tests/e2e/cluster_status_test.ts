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
/** Tries per node before a view that disagrees counts as a failure. */
const ATTEMPTS = 10;

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
    await sleep(600);
    // Each node's answer must show all five members' own views, all
    // following the one master. Re-asked a few times: on a loaded machine a
    // stall can make a member briefly lose track of the master.
    const problems = (status: Awaited<ReturnType<typeof statusJson>>) => {
      // The latest promote hook names the master (a stall on a loaded
      // machine may have caused a re-election since the first one).
      const master = cluster.promotes().at(-1)!.node;
      const out: string[] = [];
      if (status.members.map((m) => m.id).join() !== IDS.join()) {
        out.push(`members ${status.members.map((m) => m.id)}`);
      }
      for (const member of status.members) {
        const view = member.view;
        if (view === null) {
          out.push(`${member.id}: ${member.error}`);
          continue;
        }
        // Each row is the member's own view, not the asked node's.
        if (view["id"] !== member.id) {
          out.push(`${member.id}: id ${view["id"]}`);
        }
        if (view["master"] !== master) {
          out.push(`${member.id} follows ${view["master"]}`);
        }
        const role = member.id === master ? "master" : "backup";
        if (view["role"] !== role) out.push(`${member.id} is ${view["role"]}`);
        if ((view["connected"] as string[]).length !== 4) {
          out.push(`${member.id} connected to ${view["connected"]}`);
        }
        for (const key of ["term", "lease_remaining_ms", "uptime_ms"]) {
          if (typeof view[key] !== "number") out.push(`${member.id}: ${key}`);
        }
        if (view["paused"] !== false || typeof view["version"] !== "string") {
          out.push(`${member.id}: paused/version`);
        }
      }
      if (status.disagreements.length > 0) out.push(...status.disagreements);
      return out;
    };
    for (const asked of IDS) {
      let last: string[] = [];
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const status = await statusJson(cluster, asked);
        assert.equal(status.asked, asked);
        last = problems(status);
        if (last.length === 0) break;
        await sleep(300);
      }
      assert.deepEqual(last, [], `status asked on ${asked}`);
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

    const master = cluster.promotes().at(-1)!.node;
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
      // The history holds exactly the promotions the hooks saw, in order:
      // the first master, three failovers, the switchover (and any extra
      // election a loaded machine caused).
      assert.deepEqual(
        promotions.map((e) => `${e.node}/${e.term}`),
        cluster.promotes().map((p) => `${p.node}/${p.term}`),
      );
      for (const m of [...masters, to]) {
        assert.ok(promotions.some((e) => e.node === m), `${m} promoted`);
      }
      const terms = promotions.map((e) => e.term);
      assert.deepEqual(terms, [...terms].sort((a, b) => a - b));
      const handover = history.entries.find((e) =>
        e.node === from && e.from === "master" && e.to === "backup"
      );
      assert.equal(handover?.reason, "switchover");
      const takeover = promotions.findLast((e) => e.node === to);
      assert.equal(takeover?.reason, "handover");
      // The failovers were elections.
      assert.deepEqual(
        promotions.slice(1, 4).map((e) => e.reason),
        ["elected", "elected", "elected"],
      );
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
    assert.ok(
      await cluster.waitFor(
        async () => (await cluster.status(asked)) !== null,
        15_000,
      ),
      `${asked} answers after its restart`,
    );
    await sleep(1000);
    await check();
  } finally {
    await cluster.close();
  }
});
