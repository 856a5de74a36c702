/**
 * `deno task demo`: a 3-node clustd cluster on loopback with hooks that print,
 * shows who is master, kills it with SIGKILL, shows the new master and the
 * measured failover time, then cleans up. Real processes, real timings
 * (heartbeat 1500 ms unless `--heartbeat-ms` says otherwise).
 */

import { parseArgs } from "node:util";
import { sleep, TestCluster } from "../tests/e2e/_cluster.ts";

const USAGE = "Usage: deno task demo [--heartbeat-ms N] [--keep]";

function options(): { heartbeatMs: number; keep: boolean } | null {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        "heartbeat-ms": { type: "string" },
        keep: { type: "boolean" },
      },
      strict: true,
    });
    const heartbeatMs = Number(values["heartbeat-ms"] ?? "1500");
    if (
      !Number.isInteger(heartbeatMs) || heartbeatMs < 10 || heartbeatMs > 60000
    ) {
      console.error(
        `demo: --heartbeat-ms must be an integer between 10 and 60000\n${USAGE}`,
      );
      return null;
    }
    return { heartbeatMs, keep: values.keep === true };
  } catch (error: unknown) {
    console.error(
      `demo: ${
        error instanceof Error ? error.message.split(". ")[0] : error
      }\n${USAGE}`,
    );
    return null;
  }
}

function table(rows: Record<string, unknown>[]): string {
  const lines = rows.map((s) =>
    `  ${String(s["id"]).padEnd(4)} ${String(s["role"]).padEnd(8)} term ${
      s["term"]
    }  master ${s["master"] ?? "-"}`
  );
  return lines.join("\n");
}

async function statuses(
  cluster: TestCluster,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [id, node] of cluster.nodes) {
    const status = node.child === null ? null : await cluster.status(id);
    out.push(status ?? { id, role: "(down)", term: "-", master: null });
  }
  return out;
}

async function main(): Promise<number> {
  const opts = options();
  if (opts === null) return 2;
  const h = opts.heartbeatMs;
  const cluster = TestCluster.create({
    heartbeatMs: h,
    electionTimeoutMs: 2 * h,
    nodes: [
      { id: "web1", priority: 100 },
      { id: "web2", priority: 90 },
      { id: "web3", priority: 80 },
    ],
  });
  try {
    console.log(
      `clustd demo: 3 nodes on 127.0.0.1, heartbeat ${h} ms, election timeout ${
        2 * h
      } ms`,
    );
    console.log(`configs, hooks and logs in ${cluster.dir}\n`);
    const startedAt = Date.now();
    cluster.startAll();
    const first = await cluster.waitForPromotes(1, 10 * h + 15_000);
    if (first.length === 0) {
      console.error("demo: no master was elected; see the node logs above");
      return 1;
    }
    const elected = first[0]!;
    console.log(
      `promote hook ran on ${elected.node} (term ${elected.term}) ${
        elected.atMs - startedAt
      } ms after start`,
    );
    await sleep(Math.max(500, h));
    // Kill whoever is master now: on a loaded machine the first master may
    // already have been replaced (the hooks log every promote).
    const before = await statuses(cluster);
    console.log(table(before));
    const current = before.find((s) => s["role"] === "master");
    const master = typeof current?.["id"] === "string"
      ? current["id"]
      : elected.node;
    console.log(`\nkill -9 ${master} ...`);
    const killedAt = await cluster.signal(master, "SIGKILL");
    const promotedAfterKill = () =>
      cluster.promotes().filter((p) => p.atMs >= killedAt);
    await cluster.waitFor(
      () => promotedAfterKill().length > 0,
      10 * h + 10_000,
    );
    const next = promotedAfterKill()[0];
    if (next === undefined) {
      console.error("demo: no new master after the kill");
      return 1;
    }
    console.log(
      `promote hook ran on ${next.node} (term ${next.term}, fencing token) ${
        next.atMs - killedAt
      } ms after the kill`,
    );
    await sleep(Math.max(300, h / 2));
    console.log(table(await statuses(cluster)));
    console.log(
      `\nfailover time (SIGKILL -> new master's promote hook): ${
        next.atMs - killedAt
      } ms`,
    );
    return 0;
  } finally {
    await cluster.close(opts.keep);
  }
}

if (import.meta.main) Deno.exit(await main());
