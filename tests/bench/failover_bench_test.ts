/**
 * The failover benchmark's own arithmetic (hook-log parsing, dual-master
 * counting, percentiles) on fixed logs, and one short real round of each
 * tool in network namespaces, so `deno task bench` cannot rot unnoticed.
 */

import assert from "node:assert/strict";
import { etcdInstalled } from "../etcd/_etcd_cluster.ts";
import { topologySupported } from "../netns/_topology.ts";
import {
  countDualMasters,
  measureClustd,
  measureClustdEtcd,
  measureKeepalived,
  parseHookLog,
  percentile,
} from "./failover_bench.ts";

const LOG = `1000 a promote 1 a
2000 b promote 2 b
garbage line
2500 a demote 1 a
`;

Deno.test("parseHookLog skips malformed lines", () => {
  assert.deepEqual(
    parseHookLog(LOG).map((l) => `${l.atMs}:${l.node}:${l.event}`),
    [
      "1000:a:promote",
      "2000:b:promote",
      "2500:a:demote",
    ],
  );
});

Deno.test("countDualMasters counts overlap, and a frozen lease holder stops at the freeze", () => {
  const lines = parseHookLog(LOG);
  assert.equal(
    countDualMasters(lines, [], { leaseMs: 1000 }),
    1,
    "a and b overlap 2000..2500",
  );
  const killed = [{ host: "a", atMs: 1500, kind: "gone" as const }];
  assert.equal(countDualMasters(lines, killed, { leaseMs: 1000 }), 0);
  const frozen = [{ host: "a", atMs: 1500, kind: "frozen" as const }];
  assert.equal(
    countDualMasters(lines, frozen, { leaseMs: 1000 }),
    0,
    "lease holder",
  );
  assert.equal(
    countDualMasters(lines, frozen, { leaseMs: null }),
    1,
    "keepalived resumes as master",
  );
});

Deno.test("percentile is nearest-rank", () => {
  const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 90), 90);
  assert.equal(percentile(sorted, 99), 100);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("one real kill -9 round of clustd and keepalived at 100 ms in namespaces", async () => {
  if (!(await topologySupported())) {
    throw new Error(
      "network namespaces are not available: run as root with iproute2 installed",
    );
  }
  for (const measure of [measureClustd, measureKeepalived]) {
    const [result] = await measure(100, { scenarios: ["kill"], runs: 2 });
    assert.ok(result !== undefined);
    assert.equal(
      result.samplesMs.length,
      2,
      `${result.tool}: ${result.failures.join("; ")}`,
    );
    for (const sample of result.samplesMs) {
      assert.ok(sample > 0 && sample < 5000, `${result.tool} ${sample}`);
    }
    if (result.tool === "clustd") assert.equal(result.dualMasters, 0);
  }
});

Deno.test({
  name: "one real kill -9 round of clustd with the etcd backend in namespaces",
  ignore: !etcdInstalled(),
  fn: async () => {
    if (!(await topologySupported())) {
      throw new Error(
        "network namespaces are not available: run as root with iproute2 installed",
      );
    }
    const [result] = await measureClustdEtcd(1000, {
      scenarios: ["kill"],
      runs: 1,
    });
    assert.ok(result !== undefined);
    assert.equal(result.samplesMs.length, 1, result.failures.join("; "));
    // TTL 1 s + etcd's 500 ms expiry sweep + a hook run, generously.
    assert.ok(result.samplesMs[0]! < 5000, `${result.samplesMs[0]}`);
    assert.equal(result.dualMasters, 0);
  },
});
