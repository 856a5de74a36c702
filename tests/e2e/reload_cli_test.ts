/**
 * `clustd reload` against a live node: the daemon re-reads its config and
 * the CLI prints what changed (exit 0) or every error (exit 1, nothing
 * changes).
 */

import assert from "node:assert/strict";
import { runClustd as cli } from "../_process.ts";
import { sleep, TestCluster } from "./_cluster.ts";

Deno.test("clustd reload prints the change for a good config and every error for a bad one", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: 400,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
    ],
  });
  const n1 = cluster.nodes.get("n1")!;
  const original = Deno.readTextFileSync(n1.configPath);
  const reload = async (text: string) => {
    Deno.writeTextFileSync(n1.configPath, text);
    return await cli(["reload", "--config", n1.configPath]);
  };
  try {
    cluster.startAll();
    const promotes = await cluster.waitForPromotes(1, 15_000);
    assert.equal(promotes.length, 1);
    await sleep(300);

    const same = await reload(original);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /nothing changed/);

    const good = await reload(
      original.replace("timeout_ms: 5000", "timeout_ms: 6000"),
    );
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /reloaded drivers/);

    // Two errors at once: both are printed, with file and line.
    const bad = await reload(
      original.replace("timeout_ms: 5000", "timeout_ms: -1")
        .replace("priority: 100\n", "priority: 100\n  colour: blue\n"),
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reload refused: .*n1\.yml has errors/);
    assert.match(bad.stderr, /n1\.yml:\d+:\d+: .*timeout_ms/);
    assert.match(bad.stderr, /n1\.yml:\d+:\d+: .*colour/);

    const fixed = await reload(
      original.replace("heartbeat_ms: 100", "heartbeat_ms: 200"),
    );
    assert.equal(fixed.code, 1);
    assert.match(fixed.stderr, /cluster\.heartbeat_ms cannot change/);

    // The refused reloads changed nothing: same master, same term.
    const status = await cluster.status("n1");
    assert.equal(status?.["master"], promotes[0]!.node);
    assert.equal(status?.["term"], promotes[0]!.term);
  } finally {
    await cluster.close();
  }
});
