/**
 * The HTTP probes of live nodes (DESIGN §6) read by real clients: `/metrics`
 * through Debian's `promtool check metrics` (the Prometheus project's own
 * parser and linter), `/status` against every documented field, and
 * `/health`, `/master`, `/replica` as a load balancer sees them, through a
 * loss of quorum. Probes must never change state.
 */

import assert from "node:assert/strict";
import { sleep, TestCluster } from "./_cluster.ts";
import { promtoolCheck } from "./_haproxy.ts";

const H = 100;
const E = 400;
const COLD_START_MS = 15_000;
/** Time for a lone survivor to notice it lost its majority, on a busy CI box. */
const QUORUM_LOSS_MS = 2 * E + 3000;
/** E + rank·Δ + 2·RTT plus a margin for a busy 2-core CI box. */
const FAILOVER_MS = E + 3000;
/** Time for RTTs to be measured and the promote driver to run. */
const SETTLE_MS = 5000;
const PATHS = ["/health", "/master", "/replica", "/status", "/metrics"];
const EXPECTED_FAMILIES = [
  "clustd_role",
  "clustd_term",
  "clustd_quorum",
  "clustd_eligible",
  "clustd_elections_total",
  "clustd_failovers_total",
  "clustd_demotions_total",
  "clustd_peer_connected",
  "clustd_peer_rtt_seconds",
  "clustd_handshake_failures_total",
  "clustd_frame_errors_total",
  "clustd_driver_runs_total",
  "clustd_driver_failures_total",
  "clustd_driver_duration_seconds",
];

type Json = Record<string, unknown>;

async function get(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    signal: AbortSignal.timeout(2000),
  });
  return { status: response.status, body: await response.text() };
}

/** One metric family as read from the text: its HELP, TYPE and samples. */
interface Family {
  help: string | null;
  type: string | null;
  samples: { labels: string; value: number }[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;
const SUFFIXES = ["_sum", "_count", "_bucket"];

/**
 * Groups the exposition by family (promtool has already judged the syntax),
 * so each family's HELP, TYPE and values can be checked.
 */
function families(text: string): Map<string, Family> {
  const result = new Map<string, Family>();
  const family = (name: string) => {
    let current = result.get(name);
    if (current === undefined) {
      current = { help: null, type: null, samples: [] };
      result.set(name, current);
    }
    return current;
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const current = family(meta[2]!);
      if (meta[1] === "HELP") current.help = meta[3]!;
      else current.type = meta[3]!;
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match !== null, `not a sample line: ${JSON.stringify(line)}`);
    const name = match[1]!;
    const base = SUFFIXES.map((s) =>
      name.endsWith(s) ? name.slice(0, -s.length) : ""
    )
      .find((b) => b !== "" && result.get(b)?.type === "summary") ?? name;
    const value = Number(match[3]);
    assert.ok(!Number.isNaN(value), `value of ${line} parses`);
    family(base).samples.push({ labels: match[2] ?? "", value });
  }
  return result;
}

function valueOf(family: Family | undefined, labels = ""): number | undefined {
  return family?.samples.find((s) => s.labels === labels)?.value;
}

function checkStatusShape(status: Json, ids: string[]): void {
  for (
    const key of [
      "id",
      "role",
      "term",
      "master",
      "quorum",
      "eligible",
      "members",
    ]
  ) {
    assert.ok(key in status, `/status of ${status["id"]} has "${key}"`);
  }
  assert.equal(typeof status["term"], "number");
  assert.ok(
    Number.isInteger(status["term"]) && (status["term"] as number) >= 1,
  );
  assert.equal(status["quorum"], true);
  assert.equal(status["eligible"], true);
  const members = status["members"] as Json[];
  assert.deepEqual(members.map((m) => m["id"]).sort(), [...ids].sort());
  for (const member of members) {
    for (
      const key of ["id", "url", "role", "connected", "rtt_ms", "last_seen_ms"]
    ) {
      assert.ok(key in member, `member ${member["id"]} has "${key}"`);
    }
    assert.match(member["url"] as string, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(member["connected"], true, `${member["id"]} connected`);
    const rtt = member["rtt_ms"] as number;
    const seen = member["last_seen_ms"] as number;
    assert.ok(typeof rtt === "number" && rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
    // Pings go out every h: a connected peer was heard from well within E.
    assert.ok(
      typeof seen === "number" && seen >= 0 && seen < 4 * E,
      `${member["id"]} last seen ${seen} ms ago`,
    );
    const expected = member["id"] === status["master"] ? "master" : "backup";
    assert.equal(member["role"], expected, `role of ${member["id"]}`);
  }
}

/** A running three-node cluster and who is master in it. */
interface Live {
  cluster: TestCluster;
  ids: string[];
  master: string;
  term: number;
  port: (id: string) => number;
}

async function checkStatuses(live: Live): Promise<void> {
  const { cluster, ids, master } = live;
  const statuses = await Promise.all(ids.map((id) => cluster.status(id)));
  for (const [i, status] of statuses.entries()) {
    assert.ok(status !== null, `${ids[i]} answers /status`);
    assert.equal(status["id"], ids[i]);
    assert.equal(status["role"], ids[i] === master ? "master" : "backup");
    assert.equal(status["master"], master);
    checkStatusShape(status, ids);
  }
  const terms = new Set(statuses.map((s) => s?.["term"]));
  assert.deepEqual([...terms], [live.term], "one term, that of the promotion");
}

/** Probe answers of every running node, as a load balancer reads them. */
async function checkRoleProbes(live: Live, running: string[]): Promise<void> {
  for (const id of running) {
    const health = await get(live.port(id), "/health");
    const isMaster = await get(live.port(id), "/master");
    const replica = await get(live.port(id), "/replica");
    const expected = id === live.master ? [200, 503] : [503, 200];
    assert.equal(health.status, 200, `${id} /health: ${health.body}`);
    assert.equal(isMaster.status, expected[0], `${id} /master`);
    assert.equal(replica.status, expected[1], `${id} /replica`);
  }
  const head = await get(live.port(live.master), "/master", "HEAD");
  assert.equal(head.status, 200, "HEAD /master on the master");
}

/** `/metrics` of one node: promtool accepts it and it agrees with /status. */
async function checkMetricsOf(live: Live, id: string): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${live.port(id)}/metrics`);
  assert.match(
    response.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  const text = await response.text();
  const lint = await promtoolCheck(text);
  assert.equal(
    lint.code,
    0,
    `promtool check metrics on ${id}:\n${lint.output}`,
  );
  const parsed = families(text);
  for (const [name, family] of parsed) {
    assert.ok(family.help !== null && family.help !== "", `${name} has HELP`);
    assert.ok(family.type !== null, `${name} has TYPE`);
  }
  for (const name of EXPECTED_FAMILIES) {
    assert.ok(parsed.has(name), `${id} exposes ${name}`);
  }
  const status = (await live.cluster.status(id))!;
  const role = parsed.get("clustd_role");
  assert.equal(valueOf(role, `{role="${status["role"]}"}`), 1, `${id} role`);
  const roles = role?.samples.reduce((sum, s) => sum + s.value, 0);
  assert.equal(roles, 1, "one role at a time");
  assert.equal(valueOf(parsed.get("clustd_term")), status["term"], "term");
  assert.equal(valueOf(parsed.get("clustd_quorum")), 1, "quorum");
  for (const peer of live.ids.filter((p) => p !== id)) {
    const labels = `{peer="${peer}"}`;
    assert.equal(valueOf(parsed.get("clustd_peer_connected"), labels), 1);
    const rtt = valueOf(parsed.get("clustd_peer_rtt_seconds"), labels);
    assert.ok(rtt !== undefined && rtt >= 0 && rtt < 1, `rtt ${peer}: ${rtt}`);
  }
  const failovers = valueOf(parsed.get("clustd_failovers_total"));
  assert.equal(failovers, id === live.master ? 1 : 0, `${id} failovers`);
  const runs = parsed.get("clustd_driver_runs_total")?.samples ?? [];
  assert.ok(runs.length >= 1, `${id} lists its bash driver`);
  if (id === live.master) {
    assert.ok(runs.some((s) => s.value >= 1), "promote run counted");
  }
}

async function checkReadOnly(live: Live): Promise<void> {
  const { cluster, ids } = live;
  const before = await Promise.all(ids.map((id) => cluster.status(id)));
  const hooksBefore = cluster.hooks().length;
  for (const id of ids) {
    for (const path of PATHS) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
        const answer = await get(live.port(id), path, method);
        assert.equal(answer.status, 405, `${method} ${path} on ${id}`);
      }
    }
  }
  await sleep(2 * H);
  const after = await Promise.all(ids.map((id) => cluster.status(id)));
  for (const [i, status] of after.entries()) {
    for (const key of ["term", "master", "role"]) {
      assert.equal(status?.[key], before[i]?.[key], `${ids[i]} ${key} kept`);
    }
  }
  assert.equal(cluster.hooks().length, hooksBefore, "no hook ran");
}

/**
 * Kills the master: the two survivors keep quorum (/health 200) and the
 * probes follow the new master. Then kills that one too: the lone survivor
 * has no quorum, so /health, /master and /replica all answer 503.
 */
async function checkQuorumLoss(live: Live): Promise<void> {
  const { cluster } = live;
  await cluster.signal(live.master, "SIGKILL");
  const promotes = await cluster.waitForPromotes(2, FAILOVER_MS);
  assert.equal(promotes.length, 2, "a new master among two survivors");
  const next = promotes[1]!.node;
  const running = live.ids.filter((id) => id !== live.master);
  const moved = { ...live, master: next, ids: running };
  const followed = await cluster.waitFor(async () => {
    const statuses = await Promise.all(running.map((id) => cluster.status(id)));
    return statuses.every((s) => s?.["master"] === next);
  }, FAILOVER_MS);
  assert.ok(followed, `both survivors follow ${next}`);
  await checkRoleProbes(moved, running);

  const survivor = running.find((id) => id !== next)!;
  await cluster.signal(next, "SIGKILL");
  const lost = await cluster.waitFor(
    async () => (await get(live.port(survivor), "/health")).status === 503,
    QUORUM_LOSS_MS,
  );
  assert.ok(lost, `${survivor} /health still 200 without quorum`);
  const status = (await cluster.status(survivor))!;
  assert.equal(status["quorum"], false);
  assert.notEqual(status["role"], "master");
  assert.equal((await get(live.port(survivor), "/master")).status, 503);
  const replica = await get(live.port(survivor), "/replica");
  assert.equal(replica.status, 503, "a backup without quorum is not healthy");
  for (const member of status["members"] as Json[]) {
    if (member["id"] === survivor) continue;
    assert.equal(member["connected"], false, `${member["id"]} disconnected`);
  }
  const last = cluster.promotes();
  assert.ok(last.every((h) => h.node !== survivor), "no promotion alone");
}

async function startCluster(): Promise<Live> {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
    ],
  });
  const ids = [...cluster.nodes.keys()];
  const live = {
    cluster,
    ids,
    master: "",
    term: 0,
    port: (id: string) => cluster.nodes.get(id)!.port,
  };
  cluster.startAll();
  const promotes = await cluster.waitForPromotes(1, COLD_START_MS);
  assert.equal(promotes.length, 1, "one master after cold start");
  live.master = promotes[0]!.node;
  live.term = promotes[0]!.term;
  // Let pings measure every RTT and the promote driver's run be counted.
  const settled = await cluster.waitFor(async () => {
    const all = await Promise.all(ids.map((id) => cluster.status(id)));
    const text = (await get(live.port(live.master), "/metrics")).body;
    return all.every((s) =>
      s?.["master"] === live.master &&
      (s["members"] as Json[]).every((m) => m["rtt_ms"] !== null)
    ) && /^clustd_driver_runs_total\{[^}]*\} [1-9]/m.test(text);
  }, SETTLE_MS);
  assert.ok(settled, "every node sees the master and measured every RTT");
  return live;
}

Deno.test("probes of a live cluster answer as DESIGN §6 says, through failover and loss of quorum", async (t) => {
  let live: Live | null = null;
  try {
    live = await startCluster();
    const ready = live;
    await t.step(
      "/status has every DESIGN §6 field; all nodes agree on master and term",
      () => checkStatuses(ready),
    );
    await t.step(
      "/master is 200 only on the master, /replica only on backups, /health on all",
      () => checkRoleProbes(ready, ready.ids),
    );
    await t.step(
      "/metrics passes promtool check metrics and agrees with /status",
      async () => {
        for (const id of ready.ids) await checkMetricsOf(ready, id);
      },
    );
    await t.step(
      "probes never change state: other methods get 405",
      () => checkReadOnly(ready),
    );
    await t.step(
      "/health holds with two of three nodes and turns 503 with one",
      () => checkQuorumLoss(ready),
    );
  } finally {
    await live?.cluster.close();
  }
});
