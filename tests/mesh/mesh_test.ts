/** Connection manager rules: full mesh, one connection per pair, reconnect (DESIGN §2). */

import assert from "node:assert/strict";
import {
  closeAll,
  delay,
  describeCluster,
  fullMesh,
  SECRET,
  startCluster,
  startNode,
  startServer,
  type TestNode,
  waitFor,
} from "./_helpers.ts";

/** Both ends of every pair report the same session: one connection per pair. */
function assertOneConnectionPerPair(nodes: TestNode[]): void {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  for (const node of nodes) {
    for (const peer of node.mesh.peers()) {
      const mirror = byId.get(peer.id)!.mesh.peers().find((p) =>
        p.id === node.id
      )!;
      assert.ok(peer.session !== null, `${node.id}→${peer.id} has no session`);
      assert.equal(
        peer.session,
        mirror.session,
        `${node.id}↔${peer.id} disagree`,
      );
    }
    assert.equal(node.mesh.metrics().peerConnectionsOpen, nodes.length - 1);
  }
}

async function assertStable(nodes: TestNode[], forMs: number): Promise<void> {
  const before = nodes.map((node) => node.mesh.metrics().connectsTotal);
  const downs = nodes.map((node) =>
    node.events.filter((e) => e.kind === "peer_down").length
  );
  await delay(forMs);
  assert.deepEqual(
    nodes.map((node) => node.mesh.metrics().connectsTotal),
    before,
  );
  assert.deepEqual(
    nodes.map((node) =>
      node.events.filter((e) => e.kind === "peer_down").length
    ),
    downs,
  );
  assertOneConnectionPerPair(nodes);
}

Deno.test("3 nodes started one after another converge to one connection per pair", async () => {
  const nodes = startCluster(3, {}, false);
  try {
    for (const node of nodes) {
      node.mesh.start();
      await delay(60);
    }
    await waitFor(() => fullMesh(nodes), 3000, "a full mesh of 3");
    await delay(100);
    await assertStable(nodes, 400);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("3 nodes started at the same instant converge to one connection per pair", async () => {
  const nodes = startCluster(3);
  try {
    await waitFor(() => fullMesh(nodes), 3000, "a full mesh of 3");
    await delay(100);
    await assertStable(nodes, 400);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("5 nodes started at the same instant converge to one connection per pair", async () => {
  const nodes = startCluster(5);
  try {
    await waitFor(() => fullMesh(nodes), 5000, "a full mesh of 5");
    await delay(150);
    await assertStable(nodes, 500);
    for (const node of nodes) {
      const up = node.events.filter((e) => e.kind === "peer_up").map((e) =>
        e.peer
      );
      assert.deepEqual(
        [...new Set(up)].sort(),
        node.mesh.peers().map((p) => p.id),
      );
    }
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("messages arrive in order and pings measure a smoothed RTT", async () => {
  const nodes = startCluster(2);
  try {
    await waitFor(() => fullMesh(nodes), 3000, "a full mesh of 2");
    for (let i = 0; i < 50; i++) {
      assert.equal(nodes[0]!.mesh.send("n2", { i }), true);
    }
    nodes[1]!.mesh.broadcast({ all: true });
    const received = () =>
      nodes[1]!.events.flatMap((e) => e.kind === "message" ? [e.message] : []);
    await waitFor(() => received().length === 50, 2000, "50 messages");
    assert.deepEqual(received(), Array.from({ length: 50 }, (_, i) => ({ i })));
    await waitFor(
      () => nodes[0]!.events.some((e) => e.kind === "message"),
      2000,
      "the broadcast",
    );
    await waitFor(
      () => nodes[0]!.mesh.peers()[0]!.rttMs !== null,
      2000,
      "an RTT sample",
    );
    const status = nodes[0]!.mesh.peers()[0]!;
    assert.ok(status.rttMs! >= 0 && status.rttMs! < 200, `rtt ${status.rttMs}`);
    assert.ok(
      status.lastSeenMs! <= 200,
      `last seen ${status.lastSeenMs} ms ago`,
    );
    assert.equal(nodes[0]!.mesh.send("nope", {}), false);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a killed node is reconnected after restart within the backoff cap", async () => {
  const reconnectMaxMs = 200;
  const nodes = startCluster(3, { reconnectMaxMs });
  let restarted: TestNode | undefined;
  try {
    await waitFor(() => fullMesh(nodes), 3000, "a full mesh of 3");
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    const port = n2.server.port;
    await n2.close();
    await waitFor(
      () =>
        [n1, n3].every((n) =>
          n.mesh.peers().find((p) => p.id === "n2")!.connected === false
        ),
      2000,
      "peer_down of n2",
    );
    assert.ok(n1.events.some((e) => e.kind === "peer_down" && e.peer === "n2"));
    // Let the survivors' backoff reach its cap, then restart n2 without
    // letting it dial: only their reconnect attempts can bring it back.
    await delay(1000);
    const server = startServer(port);
    const ids = ["n1", "n2", "n3"];
    restarted = startNode("n2", server, {
      secret: SECRET,
      heartbeatMs: 50,
      peerTimeoutMs: 400,
      reconnectMaxMs,
      handshakeTimeoutMs: 1000,
      clusterDescription: describeCluster(ids),
      peers: [{ id: "n1", url: n1.server.url }, {
        id: "n3",
        url: n3.server.url,
      }],
    }, false);
    const startedMs = performance.now();
    const back = () =>
      [n1, n3].every((n) =>
        n.mesh.peers().find((p) => p.id === "n2")!.connected
      );
    await waitFor(back, 3000, "n1 and n3 reconnecting to n2");
    const tookMs = performance.now() - startedMs;
    // At most one backoff delay (≤ the cap) plus connect and handshake time.
    assert.ok(tookMs < reconnectMaxMs + 400, `reconnect took ${tookMs} ms`);
    nodes[1] = restarted;
    await waitFor(() => fullMesh(nodes), 3000, "the full mesh again");
  } finally {
    await closeAll([nodes[0]!, nodes[2]!, ...(restarted ? [restarted] : [])]);
  }
});
