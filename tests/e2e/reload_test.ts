/**
 * SIGHUP against a live node: what may change live is applied, what may not
 * is refused with the key named, and nothing else changes (no election).
 */

import assert from "node:assert/strict";
import { sleep, TestCluster } from "./_cluster.ts";

/** Heartbeat 100 ms, E 400 ms, priorities 100/90/80. */
function threeNodes(): TestCluster {
  return TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: 400,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
    ],
  });
}

Deno.test("SIGHUP applies log settings and driver changes, refuses timing and broken YAML", async () => {
  const cluster = threeNodes();
  const n1 = cluster.nodes.get("n1")!;
  const original = Deno.readTextFileSync(n1.configPath);
  const hup = async (text: string, expect: RegExp) => {
    Deno.writeTextFileSync(n1.configPath, text);
    const before = cluster.logOf("n1").length;
    await cluster.signal("n1", "SIGHUP");
    const seen = await cluster.waitFor(
      () => expect.test(cluster.logOf("n1").slice(before)),
      5000,
    );
    assert.ok(
      seen,
      `expected ${expect} after SIGHUP, log:\n${
        cluster.logOf("n1").slice(before)
      }`,
    );
    return cluster.logOf("n1").slice(before);
  };
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, 15_000);
    assert.equal(promotes.length, 1);
    await sleep(300);

    const timing = await hup(
      original.replace("heartbeat_ms: 100", "heartbeat_ms: 200"),
      /reload refused, nothing changed/,
    );
    assert.match(timing, /cluster\.heartbeat_ms cannot change/);

    const broken = await hup(
      original + "\n  bad: [\n",
      /reload refused: config error/,
    );
    assert.match(broken, /n1\.yml:\d+/);

    const bash = await hup(
      original.replace("timeout_ms: 5000", "timeout_ms: 6000"),
      /reload (done|refused)/,
    );
    assert.match(bash, /reload done/);

    const json = await hup(original + "log:\n  format: json\n", /reload done/);
    const after = json.split("\n").filter((line) => line.startsWith("{"));
    assert.ok(after.length > 0, "log lines are JSON after the reload");
    const parsed = JSON.parse(after.at(-1)!);
    assert.equal(typeof parsed.subsystem, "string");

    // Nothing of the above disturbed the cluster: no new term, no new master
    // (a rebuilt driver is told the current role again, in the same term).
    const first = promotes[0]!;
    for (const promote of cluster.promotes()) {
      assert.deepEqual([promote.node, promote.term], [first.node, first.term]);
    }
    const status = await cluster.status("n1");
    assert.equal(status?.["master"], promotes[0]!.node);
  } finally {
    await cluster.close();
  }
});

Deno.test("a bash driver and a check added by SIGHUP: no handover, and the driver runs on the next failover", async () => {
  const cluster = threeNodes();
  const marks = `${cluster.dir}/added.log`;
  const script = `${cluster.dir}/added.sh`;
  Deno.writeTextFileSync(
    script,
    `#!/bin/sh\necho "$CLUSTD_NODE_ID $CLUSTD_EVENT $CLUSTD_TERM" >> ${marks}\n`,
    { mode: 0o755 },
  );
  const added =
    `  - type: bash\n    promote: ${script}\n    timeout_ms: 3000\n`;
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, 15_000);
    assert.equal(promotes.length, 1);
    const master = promotes[0]!.node;
    // The master first: were its new check to start unhealthy, it would hand
    // over to a backup that has no checks yet.
    const order = [
      master,
      ...[...cluster.nodes.keys()].filter((id) => id !== master),
    ];
    for (const id of order) {
      const node = cluster.nodes.get(id)!;
      const text = Deno.readTextFileSync(node.configPath);
      const withDriver = text.replace(
        /( {4}timeout_ms: \d+\n)/,
        `$1${added}`,
      );
      assert.notEqual(withDriver, text, `driver inserted for ${id}`);
      // A new check too: it starts in the node's current (healthy) state.
      const withCheck = withDriver +
        "checks:\n  - command: /bin/true\n    interval_ms: 1000\n    rise: 3\n";
      Deno.writeTextFileSync(node.configPath, withCheck);
      const before = cluster.logOf(id).length;
      await cluster.signal(id, "SIGHUP");
      const done = await cluster.waitFor(
        () => /reload done/.test(cluster.logOf(id).slice(before)),
        5000,
      );
      const log = cluster.logOf(id).slice(before);
      assert.ok(done, `${id} reloaded:\n${log}`);
      assert.match(log, /reloaded drivers \+bash-1, checks \+check-0/);
      // Past min_hold (E): a master made unhealthy would have handed over.
      await sleep(1000);
      // (The rebuilt drivers are told the current role again: same node, term.)
      assert.deepEqual(
        [...new Set(cluster.promotes().map((p) => `${p.node}/${p.term}`))],
        [`${master}/${promotes[0]!.term}`],
        `no handover or election because ${id} reloaded`,
      );
    }
    await cluster.signal(master, "SIGKILL");
    const after = await cluster.waitForPromotes(2, 5000);
    assert.equal(after.length, 2, "a new master after the kill");
    const next = after[1]!;
    const ran = await cluster.waitFor(() => {
      try {
        return Deno.readTextFileSync(marks).includes(
          `${next.node} promote ${next.term}`,
        );
      } catch (_error: unknown) {
        return false;
      }
    }, 5000);
    assert.ok(ran, `the added driver ran on ${next.node}`);
  } finally {
    await cluster.close();
  }
});
