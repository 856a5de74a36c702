/**
 * Hostile input with the secret (issue 11): an insider that knows the
 * cluster secret joins as a configured member and sends every node messages
 * naming term 2^53−1 and a jump far past TERM_JUMP_MAX. Real `clustd run`
 * processes on loopback; the cluster must keep exactly one master, never
 * adopt the terms, log the refusals a bounded number of times, and still
 * elect exactly one master after every node restarts.
 */

import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/load.ts";
import { clusterDescription } from "../../src/config/fingerprint.ts";
import { TERM_JUMP_MAX } from "../../src/election/types.ts";
import { connectChannel, type SecureChannel } from "../../src/mesh/client.ts";
import { sleep, TestCluster } from "../e2e/_cluster.ts";

const H = 100;
const E = 400;
const VOTERS = ["n1", "n2", "n3"];
/** The member the insider poses as: configured everywhere, never started. */
const INTRUDER = "x";
const COLD_START_MS = 20_000;
/** Terms the shutdown handovers of a full restart may add. */
const RESTART_TERMS_MAX = 10;
/** How long the attack runs, and how often each node is hit. */
const ATTACK_MS = 3000;
const ATTACK_EVERY_MS = 20;
/** term_refused warnings per node: one per peer per E, plus scheduling slack. */
const REFUSAL_LOG_LINES_MAX = Math.ceil(ATTACK_MS / E) + 3;

/** Growth allowed during the attack (issue 11's bound for hostile input). */
const RSS_GROWTH_MAX_BYTES = 32 * 1024 * 1024;
/** The intruder's one connection per node, plus slack. */
const FD_GROWTH_MAX = 8;

/** RSS and open descriptors of a node's process, from /proc. */
function footprint(
  cluster: TestCluster,
  id: string,
): { rssBytes: number; fds: number } {
  const pid = cluster.nodes.get(id)!.child!.pid;
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return {
    rssBytes: rssKb * 1024,
    fds: [...Deno.readDirSync(`/proc/${pid}/fd`)].length,
  };
}

function attackMessages(term: number): unknown[] {
  const huge = Number.MAX_SAFE_INTEGER;
  const jump = term + 4 * TERM_JUMP_MAX;
  return [
    {
      type: "heartbeat",
      term: huge,
      round: 1,
      master: true,
      eligible: true,
      priority: 100,
    },
    { type: "vote_request", term: huge, handover: null },
    { type: "pre_vote_request", term, proposedTerm: huge },
    {
      type: "state",
      term: huge,
      eligible: true,
      priority: 100,
      leaderId: INTRUDER,
    },
    { type: "vote_request", term: jump, handover: null },
    {
      type: "heartbeat",
      term: jump,
      round: 2,
      master: true,
      eligible: true,
      priority: 100,
    },
    { type: "timeout_now", term: jump },
  ];
}

async function statuses(cluster: TestCluster) {
  return await Promise.all(VOTERS.map((id) => cluster.status(id)));
}

async function masters(cluster: TestCluster): Promise<string[]> {
  return (await statuses(cluster)).filter((s) => s?.["role"] === "master")
    .map((s) => String(s?.["id"]));
}

async function waitOneMaster(cluster: TestCluster): Promise<string> {
  let found: string[] = [];
  const ok = await cluster.waitFor(async () => {
    found = await masters(cluster);
    return found.length === 1;
  }, COLD_START_MS);
  assert.ok(ok, `no single master: ${found}\n${logs(cluster)}`);
  return found[0]!;
}

function logs(cluster: TestCluster): string {
  return VOTERS.map((id) =>
    `--- ${id}\n${cluster.logOf(id).split("\n").slice(-20).join("\n")}`
  ).join("\n");
}

Deno.test("a member holding the secret sends term 2^53−1: the cluster keeps one master, also after restarts", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
      { id: INTRUDER, role: "witness" },
    ],
  });
  const channels: SecureChannel[] = [];
  try {
    for (const id of VOTERS) cluster.start(id);
    const master = await waitOneMaster(cluster);
    // The promote hook runs after /status says master; count from there.
    await cluster.waitForPromotes(1, COLD_START_MS);
    await sleep(E);
    const promotesBefore = cluster.promotes().length;
    const hooksBefore = cluster.hooks().length;
    const termBefore = Number((await cluster.status(master))?.["term"]);
    const before = new Map(VOTERS.map((id) => [id, footprint(cluster, id)]));

    const loaded = await loadConfig(cluster.nodes.get(INTRUDER)!.configPath);
    assert.ok(loaded.ok);
    const description = clusterDescription(loaded.config);
    for (const id of VOTERS) {
      channels.push(
        await connectChannel(`ws://127.0.0.1:${cluster.nodes.get(id)!.port}`, {
          kind: "peer",
          psk: loaded.config.cluster.secret,
          selfId: INTRUDER,
          expectedPeerId: id,
          description,
        }),
      );
    }
    const messages = attackMessages(termBefore);
    const endMs = Date.now() + ATTACK_MS;
    let sent = 0;
    let sample = 0;
    while (Date.now() < endMs) {
      for (const channel of channels) {
        channel.send({ t: "msg", m: messages[sent % messages.length] });
      }
      sent++;
      if (sent % 10 === 0) {
        const now = await masters(cluster);
        assert.ok(now.length <= 1, `two masters during the attack: ${now}`);
        sample++;
      }
      await sleep(ATTACK_EVERY_MS);
    }
    assert.ok(sample > 5, `sampled the roles ${sample} times`);
    await sleep(2 * E);
    assert.deepEqual(await masters(cluster), [master]);
    assert.equal(
      cluster.promotes().length,
      promotesBefore,
      "no promotion during the attack",
    );
    assert.equal(cluster.hooks().length, hooksBefore, "no promote or demote");
    for (const id of VOTERS) {
      const was = before.get(id)!;
      const now = footprint(cluster, id);
      assert.ok(now.rssBytes <= was.rssBytes + RSS_GROWTH_MAX_BYTES, id);
      assert.ok(
        now.fds <= was.fds + FD_GROWTH_MAX,
        `${id}: ${was.fds}→${now.fds}`,
      );
    }
    for (const status of await statuses(cluster)) {
      assert.equal(status?.["term"], termBefore, `term of ${status?.["id"]}`);
    }
    for (const id of VOTERS) {
      const lines = cluster.logOf(id).split("\n").filter((line) =>
        line.includes("WARN") && line.includes("term_refused")
      );
      assert.ok(lines.length >= 1, `${id} logged no term_refused`);
      assert.ok(
        lines.length <= REFUSAL_LOG_LINES_MAX,
        `${id} logged ${lines.length} term_refused lines for ${sent} messages`,
      );
      assert.match(lines[0] ?? "", /from=x/);
      // The metric counts every refusal, not only the warned ones.
      const port = cluster.nodes.get(id)!.port;
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
        .text();
      const counted = Number(
        /^clustd_election_events_total\{event="term_refused"\} (\d+)$/m
          .exec(metrics)?.[1] ?? 0,
      );
      assert.ok(
        counted >= sent / 2 && counted > lines.length,
        `${id}: ${counted} refusals counted for ${sent} messages`,
      );
    }
    for (const channel of channels) channel.close("attack over");

    // Every node restarts: the persisted terms are the sane ones.
    for (const id of VOTERS) await cluster.signal(id, "SIGTERM");
    for (const id of VOTERS) {
      const state = JSON.parse(
        Deno.readTextFileSync(`${cluster.nodes.get(id)!.stateDir}/state.json`),
      );
      // Stopping the master hands over (a term or two more), nothing wild.
      assert.ok(
        state.term <= termBefore + RESTART_TERMS_MAX,
        `${id} persisted term ${state.term}`,
      );
    }
    for (const id of VOTERS) cluster.start(id);
    await waitOneMaster(cluster);
    await sleep(3 * E);
    assert.equal((await masters(cluster)).length, 1);
    for (const status of await statuses(cluster)) {
      const term = Number(status?.["term"]);
      assert.ok(term <= termBefore + RESTART_TERMS_MAX, `term ${term}`);
    }
  } finally {
    for (const channel of channels) channel.close("test over");
    await cluster.close();
  }
});

Deno.test("a node whose state file holds a term above the ceiling refuses to start, naming the fix", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [{ id: "n1" }, { id: "n2" }, { id: "n3" }],
  });
  try {
    const node = cluster.nodes.get("n1")!;
    Deno.mkdirSync(node.stateDir, { recursive: true });
    Deno.writeTextFileSync(
      `${node.stateDir}/state.json`,
      JSON.stringify({ term: Number.MAX_SAFE_INTEGER, voted_for: null }),
    );
    cluster.start("n1");
    const child = node.child!;
    const status = await child.status;
    node.child = null;
    assert.equal(status.code, 1);
    assert.match(cluster.logOf("n1"), /above the ceiling .*remove the file/);
  } finally {
    await cluster.close();
  }
});
