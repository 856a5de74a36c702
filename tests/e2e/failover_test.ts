/**
 * End-to-end failover with real `clustd run` processes on loopback and real
 * signals. Timings: heartbeat 100 ms, election timeout 400 ms. Liveness is
 * asserted against DESIGN's bound E + rank·Δ + 2·RTT with a generous margin
 * (LIVENESS_MARGIN_MS) because CI machines are shared and slow; speed itself
 * is measured by `deno task bench`, not here.
 */

import assert from "node:assert/strict";
import { leaseEndMs, overlaps, sleep, TestCluster } from "./_cluster.ts";

const H = 100;
const E = 400;
const DELTA = 10;
/** The default lease, 0.9 × E. */
const L = 0.9 * E;
/** Log lines carry the wall clock; the lease runs on the monotonic one. */
const CLOCK_SLACK_MS = 20;
/** Slack for process scheduling, Worker start and hook spawn on a busy 2-core CI box. */
const LIVENESS_MARGIN_MS = 2500;
const COLD_START_MS = 15_000;

function three(priorities = [100, 90, 80]) {
  return TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: priorities.map((priority, i) => ({ id: `n${i + 1}`, priority })),
  });
}

async function masterOf(
  cluster: TestCluster,
  id: string,
): Promise<string | null> {
  const status = await cluster.status(id);
  return (status?.["master"] as string | null | undefined) ?? null;
}

function failWith(cluster: TestCluster, message: string): never {
  const logs = [...cluster.nodes.keys()].map((id) =>
    `--- ${id}\n${cluster.logOf(id).split("\n").slice(-25).join("\n")}`
  );
  throw new Error(
    `${message}\nhooks:\n${Deno.readTextFileSync(cluster.hookLog)}\n${
      logs.join("\n")
    }`,
  );
}

for (const size of [3, 5]) {
  Deno.test(`cold start of ${size} nodes promotes exactly one master`, async () => {
    const cluster = TestCluster.create({
      heartbeatMs: H,
      electionTimeoutMs: E,
      nodes: Array.from(
        { length: size },
        (_, i) => ({ id: `n${i + 1}`, priority: 100 - i }),
      ),
    });
    try {
      cluster.startAll();
      const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
      if (promotes.length === 0) {
        failWith(cluster, "no master after cold start");
      }
      // Give a second master every chance to appear before asserting there is none.
      await sleep(1500);
      const all = cluster.promotes();
      assert.equal(all.length, 1, `promotes: ${JSON.stringify(all)}`);
      const master = all[0]!.node;
      for (const id of cluster.nodes.keys()) {
        const status = await cluster.status(id);
        assert.equal(
          status?.["master"],
          master,
          `${id} sees master ${status?.["master"]}`,
        );
        assert.equal(status?.["role"], id === master ? "master" : "backup", id);
      }
    } finally {
      await cluster.close();
    }
  });
}

Deno.test("kill -9 of the master promotes the best-ranked survivor, repeatedly", async () => {
  const cluster = three();
  const kills = new Map<string, number[]>();
  try {
    cluster.startAll();
    let promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length !== 1) {
      failWith(cluster, "no single master after cold start");
    }
    for (let round = 0; round < 3; round++) {
      await sleep(600);
      const master = cluster.promotes().at(-1)!.node;
      const before = cluster.promotes().length;
      const killedAt = await cluster.signal(master, "SIGKILL");
      kills.set(master, [...(kills.get(master) ?? []), killedAt]);
      promotes = await cluster.waitForPromotes(
        before + 1,
        E + 2 * DELTA + LIVENESS_MARGIN_MS,
      );
      if (promotes.length !== before + 1) {
        failWith(cluster, `round ${round}: no new master`);
      }
      const next = promotes.at(-1)!;
      const survivors = [...cluster.nodes.values()].filter((n) =>
        n.spec.id !== master
      )
        .sort((a, b) => (b.spec.priority ?? 0) - (a.spec.priority ?? 0));
      assert.equal(
        next.node,
        survivors[0]!.spec.id,
        `round ${round}: best-ranked survivor`,
      );
      console.log(
        `round ${round}: kill ${master} -> promote ${next.node} in ${
          next.atMs - killedAt
        } ms`,
      );
      // The killed node restarts with its state_dir intact and must rejoin as
      // a backup without disturbing the new master.
      const term = next.term;
      cluster.start(master);
      const rejoined = await cluster.waitFor(
        async () => (await masterOf(cluster, master)) === next.node,
        10_000,
      );
      if (!rejoined) {
        failWith(cluster, `round ${round}: ${master} did not rejoin`);
      }
      await sleep(800);
      assert.equal(
        cluster.promotes().length,
        before + 1,
        `round ${round}: restart caused an election`,
      );
      const status = await cluster.status(next.node);
      assert.equal(
        status?.["term"],
        term,
        `round ${round}: term moved after rejoin`,
      );
    }
    assert.deepEqual(overlaps(cluster.hooks(), kills), []);
  } finally {
    await cluster.close();
  }
});

Deno.test("SIGTERM of the master hands over: demote hook finishes before the new promote", async () => {
  const cluster = three();
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length !== 1) failWith(cluster, "no master");
    await sleep(500);
    const master = promotes[0]!.node;
    const termAt = await cluster.signal(master, "SIGTERM");
    const after = await cluster.waitForPromotes(2, 5000);
    if (after.length !== 2) failWith(cluster, "no promote after SIGTERM");
    // The handover's demote, not the one every node runs at start.
    const demote = cluster.hooks().find((h) =>
      h.node === master && h.event === "demote" && h.atMs >= termAt
    );
    assert.ok(demote !== undefined, "old master ran its demote hook");
    const next = after[1]!;
    assert.notEqual(next.node, master);
    assert.ok(
      demote.atMs <= next.atMs,
      `demote ${demote.atMs} before promote ${next.atMs}`,
    );
    console.log(
      `handover: SIGTERM -> demote hook ${
        demote.atMs - termAt
      } ms, -> new promote ${next.atMs - termAt} ms (gap ${
        next.atMs - demote.atMs
      } ms)`,
    );
    assert.deepEqual(overlaps(cluster.hooks()), []);
  } finally {
    await cluster.close();
  }
});

Deno.test("SIGSTOP of the master beyond E: a new master meanwhile, the old demotes on resume", async () => {
  const cluster = three();
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length !== 1) failWith(cluster, "no master");
    await sleep(500);
    const old = promotes[0]!;
    const stoppedAt = await cluster.signal(old.node, "SIGSTOP");
    const after = await cluster.waitForPromotes(
      2,
      E + 2 * DELTA + LIVENESS_MARGIN_MS,
    );
    if (after.length !== 2) {
      failWith(cluster, "no master while the old one was stopped");
    }
    assert.notEqual(after[1]!.node, old.node);
    await sleep(E);
    await cluster.signal(old.node, "SIGCONT");
    const demoted = await cluster.waitFor(
      () =>
        cluster.hooks().some((h) =>
          h.node === old.node && h.event === "demote" && h.atMs >= old.atMs
        ),
      5000,
    );
    if (!demoted) failWith(cluster, "old master did not demote on resume");
    await sleep(1000);
    const oldPromotes = cluster.promotes().filter((h) => h.node === old.node);
    assert.equal(oldPromotes.length, 1, "old master never promotes again");
    // While stopped, the old master could act only until the lease it held
    // ran out: read that instant from its own log, check that it lies within
    // L of the stop (the last lease round was sent before it), and check that
    // the new master promoted only after it.
    const leaseEnd = leaseEndMs(cluster.logOf(old.node), old.term);
    assert.ok(leaseEnd !== null, "old master logged its lease");
    assert.ok(
      leaseEnd <= stoppedAt + L + CLOCK_SLACK_MS,
      `lease end ${leaseEnd - stoppedAt} ms after SIGSTOP, L is ${L} ms`,
    );
    console.log(
      `SIGSTOP: old lease ran out ${leaseEnd - stoppedAt} ms after the stop, ` +
        `new master promoted ${after[1]!.atMs - stoppedAt} ms after it`,
    );
    const ends = new Map([[old.node, [leaseEnd]]]);
    assert.deepEqual(overlaps(cluster.hooks(), ends), []);
  } finally {
    await cluster.close();
  }
});

Deno.test("a hung promote script is killed at its timeout and failover goes on", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    hookTimeoutMs: 800,
    // Every promote hook hangs: the first master's is killed at its timeout,
    // and the next failover must not wait for it.
    nodes: [
      { id: "n1", priority: 100, promoteExtra: "sleep 30" },
      { id: "n2", priority: 90, promoteExtra: "sleep 30" },
      { id: "n3", priority: 80, promoteExtra: "sleep 30" },
    ],
  });
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length !== 1) failWith(cluster, "no master");
    const first = promotes[0]!.node;
    const killed = await cluster.waitFor(
      () => /timed out|timeout/i.test(cluster.logOf(first)),
      5000,
    );
    if (!killed) {
      failWith(cluster, "hung promote script was not reported as timed out");
    }
    const at = await cluster.signal(first, "SIGKILL");
    const after = await cluster.waitForPromotes(
      2,
      E + 2 * DELTA + LIVENESS_MARGIN_MS,
    );
    if (after.length !== 2) failWith(cluster, "failover did not happen");
    assert.notEqual(after[1]!.node, first);
    console.log(
      `failover with a hung hook on the old master: ${after[1]!.atMs - at} ms`,
    );
  } finally {
    await cluster.close();
  }
});

Deno.test("a pre_promote veto keeps the node backup and another node becomes master", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100, prePromote: "exit 1" },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
    ],
  });
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length === 0) failWith(cluster, "no master");
    await sleep(1500);
    const all = cluster.promotes();
    assert.ok(
      all.every((h) => h.node !== "n1"),
      `n1 promoted despite veto: ${JSON.stringify(all)}`,
    );
    assert.equal(
      new Set(all.map((h) => h.term)).size,
      all.length,
      "one master per term",
    );
    assert.deepEqual(overlaps(cluster.hooks()), []);
  } finally {
    await cluster.close();
  }
});

Deno.test("a failing check makes the master hand over; witness and priority 0 never promote", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 0 },
      { id: "w1", role: "witness" },
    ],
  });
  // Both voters that can lead run the same check on their own flag file, so
  // the test does not depend on who wins the cold start.
  const check = `${cluster.dir}/check.sh`;
  Deno.writeTextFileSync(
    check,
    `#!/bin/sh\ntest ! -e ${cluster.dir}/broken-$1\n`,
    { mode: 0o755 },
  );
  for (const id of ["n1", "n2"]) {
    const node = cluster.nodes.get(id)!;
    Deno.writeTextFileSync(
      node.configPath,
      Deno.readTextFileSync(node.configPath) +
        `checks:\n  - command: ${check}\n    args: [${id}]\n    interval_ms: 100\n    rise: 1\n    fall: 2\n`,
    );
  }
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
    if (promotes.length !== 1) failWith(cluster, "no single master");
    const master = promotes[0]!.node;
    const other = master === "n1" ? "n2" : "n1";
    assert.ok(master === "n1" || master === "n2", `${master} may not lead`);
    await sleep(500);
    Deno.writeTextFileSync(`${cluster.dir}/broken-${master}`, "");
    const after = await cluster.waitForPromotes(2, 5000);
    if (after.length !== 2) {
      failWith(cluster, "no handover after the check failed");
    }
    assert.equal(after[1]!.node, other);
    const demote = cluster.hooks().find((h) =>
      h.node === master && h.event === "demote" && h.atMs >= promotes[0]!.atMs
    );
    assert.ok(
      demote !== undefined && demote.atMs <= after[1]!.atMs,
      `${master} demoted first`,
    );
    // Now the new master dies and the old one is unhealthy: n3 (priority 0)
    // and w1 (witness) must not promote.
    await cluster.signal(other, "SIGKILL");
    await sleep(E * 4 + 1000);
    const last = cluster.promotes();
    assert.ok(
      last.every((h) => h.node !== "n3" && h.node !== "w1"),
      JSON.stringify(last),
    );
    assert.equal(last.length, 2);
  } finally {
    await cluster.close();
  }
});
