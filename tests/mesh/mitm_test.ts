/**
 * A man in the middle between two real nodes duplicates, drops and flips
 * client→server frames: each fault closes the connection with a logged,
 * counted reason, and the nodes reconnect (DESIGN §2).
 */

import assert from "node:assert/strict";
import { MitmProxy } from "./_mitm_proxy.ts";
import {
  captureLogs,
  closeAll,
  describeCluster,
  SECRET,
  startNode,
  startServer,
  type TestNode,
  waitFor,
} from "./_helpers.ts";

Deno.test("duplicated, dropped and flipped frames each close the connection, which comes back", async () => {
  const ids = ["n1", "n2"];
  const common = {
    secret: SECRET,
    clusterDescription: describeCluster(ids),
    heartbeatMs: 50,
    peerTimeoutMs: 400,
    reconnectMaxMs: 200,
    handshakeTimeoutMs: 1000,
  };
  const server2 = startServer();
  const proxy = new MitmProxy(server2.port, ["duplicate", "drop", "flip"]);
  const nodes: TestNode[] = [];
  try {
    await captureLogs(async (lines) => {
      // n2 can only be reached through the proxy, and cannot reach n1 at
      // all (port 9 refuses), so every n1–n2 connection crosses the proxy.
      nodes.push(
        startNode("n2", server2, {
          ...common,
          peers: [{ id: "n1", url: "ws://127.0.0.1:9" }],
        }),
      );
      nodes.push(
        startNode("n1", startServer(), {
          ...common,
          peers: [{ id: "n2", url: proxy.url }],
        }),
      );
      const [n2, n1] = nodes as [TestNode, TestNode];
      const ups = () => n1.events.filter((e) => e.kind === "peer_up").length;
      await waitFor(
        () => ups() === 4 && n1.mesh.peers()[0]!.connected,
        8000,
        "the fourth connection",
      );
      assert.deepEqual(proxy.applied, ["duplicate", "drop", "flip"]);
      assert.deepEqual(n2.mesh.metrics().frameErrors, {
        replayed: 1,
        out_of_order: 1,
        tampered: 1,
      });
      const downs = n1.events.filter((e) => e.kind === "peer_down");
      assert.equal(downs.length, 3);
      for (const reason of ["replayed", "out_of_order", "tampered"]) {
        assert.ok(
          lines.some((line) =>
            line.includes("frame rejected") &&
            line.includes(`reason=${reason}`) && line.includes("peer=n1")
          ),
          `no log line for ${reason}`,
        );
      }
      // The fourth connection is clean and carries messages.
      assert.equal(n1.mesh.send("n2", { after: "faults" }), true);
      await waitFor(
        () =>
          n2.events.some((e) =>
            e.kind === "message" &&
            (e.message as { after?: string }).after === "faults"
          ),
        2000,
        "a message over the healed connection",
      );
    });
  } finally {
    await closeAll(nodes);
    await proxy.close();
  }
});
