/**
 * SIGHUP against a live node: what may change live is applied, what may not
 * is refused with the key named, and nothing else changes (no election).
 */

import assert from "node:assert/strict";
import { sleep, TestCluster } from "./_cluster.ts";

Deno.test("SIGHUP applies log settings and refuses timing, broken YAML and new bash drivers", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: 400,
    nodes: [{ id: "n1", priority: 100 }, { id: "n2", priority: 90 }, {
      id: "n3",
      priority: 80,
    }],
  });
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
      /reload refused, nothing changed/,
    );
    assert.match(bash, /restart clustd to apply/);

    const json = await hup(original + "log:\n  format: json\n", /reload done/);
    const after = json.split("\n").filter((line) => line.startsWith("{"));
    assert.ok(after.length > 0, "log lines are JSON after the reload");
    const parsed = JSON.parse(after.at(-1)!);
    assert.equal(typeof parsed.subsystem, "string");

    // Nothing of the above disturbed the cluster.
    assert.equal(cluster.promotes().length, 1);
    const status = await cluster.status("n1");
    assert.equal(status?.["master"], promotes[0]!.node);
  } finally {
    await cluster.close();
  }
});
