/**
 * The etcd election shell and core, three nodes in this process against a
 * real three-member etcd: one master, failover when the master's process
 * stops renewing (a crash as etcd sees it), switchover, drain and pause.
 */
import assert from "node:assert/strict";
import { EtcdBackend } from "../../src/backend/etcd_backend.ts";
import { waitFor } from "../_process.ts";
import { etcdInstalled, startEtcdCluster } from "./_etcd_cluster.ts";

/** etcd lease TTL of the test nodes (etcd's smallest: one second). */
const TTL_MS = 1000;
/** etcd expires leases on a 500 ms sweep; failover adds that, Δ and round trips. */
const FAILOVER_BOUND_MS = TTL_MS + 500 + 1500;

interface Node {
  id: string;
  backend: EtcdBackend;
  events: string[];
  replies: Map<string, { ok: boolean; message: string }>;
}

function startNode(
  id: string,
  priority: number,
  endpoints: string[],
  prefix: string,
): Node {
  const events: string[] = [];
  const replies = new Map<string, { ok: boolean; message: string }>();
  const node: Node = {
    id,
    events,
    replies,
    backend: null as unknown as EtcdBackend,
  };
  node.backend = new EtcdBackend({
    selfId: id,
    role: "voter",
    priority,
    ttlMs: TTL_MS,
    rankDelayMs: 50,
    startMs: performance.now(),
    client: { endpoints },
    prefix,
    now: () => performance.now(),
  }, {
    promote: (term) => events.push(`promote ${term}`),
    demote: (term, reason, handover) => {
      events.push(`demote ${term} ${reason}`);
      if (handover) queueMicrotask(() => node.backend.demoteDone(term));
    },
    reply: (requestId, ok, message) => replies.set(requestId, { ok, message }),
    prePromote: (term) => node.backend.prePromoteResult(term, true),
    log: (e) =>
      Deno.env.get("ETCD_TEST_LOG") &&
      console.error(id, e.event, JSON.stringify(e.fields)),
  });
  node.backend.start();
  return node;
}

function masters(nodes: Node[]): Node[] {
  return nodes.filter((node) => node.backend.isMaster());
}

async function oneMaster(nodes: Node[], timeoutMs: number): Promise<Node> {
  let seenTwo = false;
  const ok = await waitFor(() => {
    const now = masters(nodes);
    if (now.length > 1) seenTwo = true;
    return now.length === 1;
  }, timeoutMs);
  assert.ok(!seenTwo, "two masters at once");
  assert.ok(
    ok,
    `no single master: ${
      nodes.map((n) => `${n.id}:${n.events.join(",")}`).join(" ")
    }`,
  );
  return masters(nodes)[0]!;
}

async function command(
  node: Node,
  id: string,
  cmd: Parameters<EtcdBackend["command"]>[1],
) {
  node.backend.command(id, cmd);
  assert.ok(
    await waitFor(() => node.replies.has(id), 5000),
    `no reply to ${id}`,
  );
  return node.replies.get(id)!;
}

Deno.test({
  name:
    "etcd backend: election, failover, switchover, drain and pause on a real etcd",
  ignore: !etcdInstalled(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const cluster = await startEtcdCluster();
    const nodes = [
      startNode("a", 100, cluster.endpoints, "/clustd/t"),
      startNode("b", 90, cluster.endpoints, "/clustd/t"),
      startNode("c", 80, cluster.endpoints, "/clustd/t"),
    ];
    try {
      let master: Node;
      await t.step(
        "the best-ranked node becomes master; every node starts demoted",
        async () => {
          master = await oneMaster(nodes, 5000);
          assert.equal(master.id, "a");
          for (const node of nodes) {
            assert.equal(node.events[0], "demote 0 start");
          }
          assert.ok(
            await waitFor(
              () =>
                nodes.every((n) =>
                  n.backend.status().members.length === 3 &&
                  n.backend.status().masterId === "a"
                ),
              3000,
            ),
            "every node sees all members and the master",
          );
        },
      );

      await t.step(
        "switchover to a named node: old master demotes first",
        async () => {
          const before = master.backend.status().term;
          const reply = await command(master, "s1", {
            type: "switchover",
            to: "c",
          });
          assert.ok(reply.ok, reply.message);
          const next = await oneMaster(nodes, 3000);
          assert.equal(next.id, "c");
          assert.ok(next.backend.status().term > before);
          assert.match(master.events.at(-1)!, /demote \d+ switchover/);
          master = next;
        },
      );

      await t.step(
        "drain hands over to the best other eligible node",
        async () => {
          const reply = await command(master, "d1", { type: "drain" });
          assert.ok(reply.ok, reply.message);
          const next = await oneMaster(nodes, 3000);
          assert.equal(next.id, "a");
          assert.equal(master.backend.status().eligible, false);
          const undrain = await command(master, "u1", { type: "undrain" });
          assert.ok(undrain.ok);
          master = next;
        },
      );

      await t.step(
        "a crashed master is replaced within TTL plus bounds, token larger",
        async () => {
          // Pause first: no failover while paused.
          assert.ok((await command(nodes[1]!, "p1", { type: "pause" })).ok);
          assert.ok(
            await waitFor(
              () => nodes.every((n) => n.backend.status().paused),
              3000,
            ),
          );
          const term = master.backend.status().term;
          const started = performance.now();
          await master.backend.stop(); // stops renewing, as kill -9 would
          const rest = nodes.filter((n) => n !== master);
          await new Promise((resolve) =>
            setTimeout(resolve, FAILOVER_BOUND_MS)
          );
          assert.equal(masters(rest).length, 0, "failover while paused");
          assert.ok((await command(nodes[1]!, "r1", { type: "resume" })).ok);
          const next = await oneMaster(rest, FAILOVER_BOUND_MS);
          assert.equal(next.id, "b");
          assert.ok(next.backend.status().term > term);
          assert.ok(performance.now() - started < 2 * FAILOVER_BOUND_MS + 1000);
        },
      );
    } finally {
      for (const node of nodes) await node.backend.stop();
      await cluster.stop();
    }
  },
});
