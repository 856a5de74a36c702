/**
 * Handshake and limits over real sockets (DESIGN §2): refusals logged on
 * both sides and counted, stalls closed at the timeout, oversized frames
 * refused, a flood of connections capped without disturbing real peers.
 */

import assert from "node:assert/strict";
import { connectChannel, type SecureChannel } from "../../src/mesh/client.ts";
import { FrameSealer, PLAINTEXT_BYTES_MAX } from "../../src/mesh/frame.ts";
import { ClientHandshake } from "../../src/mesh/handshake.ts";
import type { MeshOptions } from "../../src/mesh/mesh.ts";
import {
  captureLogs,
  closeAll,
  delay,
  describeCluster,
  DRIVER_TOKEN,
  fullMesh,
  OTHER_SECRET,
  SECRET,
  startCluster,
  startNode,
  startServer,
  type TestNode,
  waitFor,
} from "./_helpers.ts";

const ONE_MIB = 1024 * 1024;

/** Node n1 alone (its peer n2 is never up); accepts but does not dial. */
function lonelyNode(options: Partial<MeshOptions> = {}): TestNode {
  return startNode("n1", startServer(), {
    secret: SECRET,
    peers: [{ id: "n2", url: "ws://127.0.0.1:9" }],
    clusterDescription: describeCluster(["n1", "n2"]),
    heartbeatMs: 50,
    peerTimeoutMs: 400,
    handshakeTimeoutMs: 300,
    ...options,
  }, false);
}

interface Raw {
  ws: WebSocket;
  opened: Promise<boolean>;
  closed: Promise<{ code: number; reason: string; atMs: number }>;
  messages: unknown[];
}

function openRaw(url: string): Raw {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const messages: unknown[] = [];
  ws.onmessage = (event) => messages.push(event.data);
  const opened = new Promise<boolean>((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
  });
  const closed = new Promise<{ code: number; reason: string; atMs: number }>(
    (resolve) => {
      ws.onclose = (event) =>
        resolve({
          code: event.code,
          reason: event.reason,
          atMs: performance.now(),
        });
    },
  );
  return { ws, opened, closed, messages };
}

/** Completes a control-channel handshake by hand and returns the socket and keys. */
async function rawControl(
  url: string,
): Promise<{ raw: Raw; sealer: FrameSealer }> {
  const raw = openRaw(`${url}/clustd/v1/control`);
  assert.ok(await raw.opened);
  const machine = new ClientHandshake({
    kind: "control",
    psk: SECRET,
    selfId: "cli",
    description: null,
  });
  raw.ws.send(JSON.stringify((await machine.start()).send));
  await waitFor(() => raw.messages.length === 1, 2000, "the welcome");
  const step = await machine.receive(raw.messages[0] as string);
  raw.ws.send(JSON.stringify(step.send));
  assert.ok(step.result?.ok);
  return { raw, sealer: new FrameSealer(step.result.keys.sendChainKey) };
}

Deno.test("a wrong secret is refused, logged on both sides and counted", async () => {
  const node = lonelyNode();
  try {
    await captureLogs(async (lines) => {
      await assert.rejects(
        connectChannel(node.server.url, {
          kind: "peer",
          psk: OTHER_SECRET,
          selfId: "n2",
          description: describeCluster(["n1", "n2"]),
        }),
        /authentication failed: the peer does not know this cluster's secret/,
      );
      await waitFor(
        () => node.mesh.metrics().handshakeFailures.auth === 1,
        2000,
        "the server's count",
      );
      const failed = lines.filter((line) =>
        line.includes("handshake failed") && line.includes("reason=auth")
      );
      assert.ok(
        failed.some((line) => line.includes("direction=outbound")),
        lines.join("\n"),
      );
      assert.ok(
        failed.some((line) => line.includes("direction=inbound")),
        lines.join("\n"),
      );
    });
  } finally {
    await node.close();
  }
});

Deno.test("a different fingerprint is refused naming the difference", async () => {
  const node = lonelyNode();
  try {
    await captureLogs(async (lines) => {
      await assert.rejects(
        connectChannel(node.server.url, {
          kind: "peer",
          psk: SECRET,
          selfId: "n2",
          description: describeCluster(["n1", "n2", "n3"], {
            roles: { n1: "witness" },
          }),
        }),
        /differs from peer "n1": members ids differ \(only here: n3\); members\[n1\]\.role: here "witness", peer "voter"/,
      );
      await waitFor(
        () => node.mesh.metrics().handshakeFailures.fingerprint === 1,
        2000,
        "the count",
      );
      assert.ok(
        lines.some((line) =>
          line.includes("direction=inbound") &&
          line.includes("only on peer: n3")
        ),
      );
    });
  } finally {
    await node.close();
  }
});

Deno.test("a different protocol version is refused naming both versions", async () => {
  const node = lonelyNode();
  try {
    await assert.rejects(
      connectChannel(node.server.url, {
        kind: "control",
        psk: SECRET,
        selfId: "cli",
        version: 7,
      }),
      /protocol version mismatch: peer speaks 1, this node speaks 7/,
    );
    await waitFor(
      () => node.mesh.metrics().handshakeFailures.version === 1,
      2000,
      "the count",
    );
  } finally {
    await node.close();
  }
});

Deno.test("garbage as the first message closes the connection", async () => {
  const node = lonelyNode();
  try {
    for (const garbage of ["GET / HTTP/1.1", new Uint8Array([1, 2, 3])]) {
      const raw = openRaw(`${node.server.url}/clustd/v1/peer`);
      assert.ok(await raw.opened);
      raw.ws.send(garbage);
      const closed = await raw.closed;
      assert.equal(closed.code, 1008);
    }
    assert.equal(node.mesh.metrics().handshakeFailures.malformed, 2);
  } finally {
    await node.close();
  }
});

Deno.test("a client that stalls mid-handshake is closed at the timeout", async () => {
  const node = lonelyNode({ handshakeTimeoutMs: 300 });
  try {
    const raw = openRaw(`${node.server.url}/clustd/v1/peer`);
    assert.ok(await raw.opened);
    const startMs = performance.now();
    const machine = new ClientHandshake({
      kind: "peer",
      psk: SECRET,
      selfId: "n2",
      description: describeCluster(["n1", "n2"]),
    });
    raw.ws.send(JSON.stringify((await machine.start()).send));
    // Never send the finish message.
    const closed = await raw.closed;
    const tookMs = closed.atMs - startMs;
    assert.ok(tookMs >= 250 && tookMs < 1500, `closed after ${tookMs} ms`);
    assert.match(closed.reason, /handshake did not finish within 300 ms/);
    assert.equal(node.mesh.metrics().handshakeFailures.timeout, 1);
    assert.equal(node.mesh.metrics().handshakesPending, 0);
  } finally {
    await node.close();
  }
});

Deno.test("a silent client is closed at the default 5 s handshake timeout", async () => {
  const node = lonelyNode({
    handshakeTimeoutMs: undefined as unknown as number,
  });
  try {
    const raw = openRaw(`${node.server.url}/clustd/v1/peer`);
    assert.ok(await raw.opened);
    const startMs = performance.now();
    const closed = await raw.closed;
    const tookMs = closed.atMs - startMs;
    assert.ok(tookMs >= 4900 && tookMs < 6500, `closed after ${tookMs} ms`);
    assert.equal(node.mesh.metrics().handshakeFailures.timeout, 1);
  } finally {
    await node.close();
  }
});

Deno.test("a 1 MiB frame is refused before and after the handshake", async () => {
  const node = lonelyNode();
  const served: SecureChannel[] = [];
  node.mesh.onChannel("control", (ch) => served.push(ch));
  try {
    const before = openRaw(`${node.server.url}/clustd/v1/peer`);
    assert.ok(await before.opened);
    before.ws.send(new Uint8Array(ONE_MIB));
    // Refused from the frame header and the TCP connection closed at once;
    // the client may see our 1009 or, when the close overtakes its own
    // unsent megabyte, an abnormal close.
    assert.ok([1009, 1006, 0].includes((await before.closed).code));
    assert.equal(node.mesh.metrics().handshakeFailures.too_large, 1);

    const { raw, sealer } = await rawControl(node.server.url);
    await waitFor(() => served.length === 1, 2000, "the control channel");
    raw.ws.send(await sealer.seal(FrameSealer.encode({ fine: true })!));
    const big = new Uint8Array(ONE_MIB);
    big.set(await sealer.seal(FrameSealer.encode({ x: 1 })!));
    raw.ws.send(big);
    assert.ok([1009, 1006, 0].includes((await raw.closed).code));
    assert.equal(node.mesh.metrics().frameErrors.too_large, 1);
    assert.match(await served[0]!.closed, /too_large/);

    const channel = await connectChannel(node.server.url, {
      kind: "control",
      psk: SECRET,
      selfId: "cli",
    });
    assert.equal(channel.send({ blob: "x".repeat(ONE_MIB) }), false);
    assert.equal(channel.send({ small: 1 }), true);
    channel.close();
    await channel.closed;
  } finally {
    await node.close();
  }
});

Deno.test("the largest message that fits one frame travels both ways", async () => {
  const node = lonelyNode();
  const largest = "x".repeat(PLAINTEXT_BYTES_MAX - 2);
  node.mesh.onChannel("control", (ch) => ch.onMessage((m) => ch.send(m)));
  try {
    const channel = await connectChannel(node.server.url, {
      kind: "control",
      psk: SECRET,
      selfId: "cli",
    });
    const got: unknown[] = [];
    channel.onMessage((m) => got.push(m));
    assert.equal(channel.send(largest), true);
    await waitFor(() => got.length === 1, 2000, "the echo");
    assert.equal(got[0], largest);
    channel.close();
    await channel.closed;
  } finally {
    await node.close();
  }
});

Deno.test("control channels carry messages both ways", async () => {
  const node = lonelyNode();
  node.mesh.onChannel(
    "control",
    (ch) => ch.onMessage((m) => ch.send({ echo: m })),
  );
  try {
    const channel = await connectChannel(node.server.url, {
      kind: "control",
      psk: SECRET,
      selfId: "cli",
      expectedPeerId: "n1",
    });
    const got: unknown[] = [];
    channel.onMessage((m) => got.push(m));
    channel.send({ cmd: "status" });
    await waitFor(() => got.length === 1, 2000, "the echo");
    assert.deepEqual(got[0], { echo: { cmd: "status" } });
    assert.equal(channel.peerId, "n1");
    channel.close();
    assert.equal(await channel.closed, "closed by this node");
  } finally {
    await node.close();
  }
});

Deno.test("a driver token opens driver channels only", async () => {
  const node = lonelyNode({ driverKey: () => DRIVER_TOKEN });
  const drivers: SecureChannel[] = [];
  node.mesh.onChannel("driver", (ch) => drivers.push(ch));
  try {
    const driver = await connectChannel(node.server.url, {
      kind: "driver",
      psk: DRIVER_TOKEN,
      selfId: "drv-1",
    });
    await waitFor(() => drivers.length === 1, 2000, "the driver channel");
    assert.equal(drivers[0]!.peerId, "drv-1");
    driver.close();
    await driver.closed;
    for (const kind of ["peer", "control"] as const) {
      await assert.rejects(
        connectChannel(node.server.url, {
          kind,
          psk: DRIVER_TOKEN,
          selfId: "n2",
          description: describeCluster(["n1", "n2"]),
        }),
        /authentication failed/,
      );
    }
    await waitFor(
      () => node.mesh.metrics().handshakeFailures.auth === 2,
      2000,
      "two counted auth failures",
    );
    assert.equal(node.mesh.peers()[0]!.connected, false);
  } finally {
    await node.close();
  }
});

Deno.test("driver channels are refused when no driver token is configured", async () => {
  const node = lonelyNode();
  try {
    await assert.rejects(
      connectChannel(node.server.url, {
        kind: "driver",
        psk: DRIVER_TOKEN,
        selfId: "drv-1",
      }),
      /driver channels are not served by this node \(no driver token is configured\)/,
    );
  } finally {
    await node.close();
  }
});

Deno.test("500 connections at once from one address leave the node and its peers up", async () => {
  // The attacker shares this process (and its event loop) with all three
  // nodes: creating 500 WebSockets alone blocks it for about half a second,
  // so the peer timeout is set above that; tests/hostile runs the real
  // attacks against separate processes at 5x tighter timings.
  const nodes = startCluster(3, {
    handshakeTimeoutMs: 500,
    peerTimeoutMs: 3000,
  });
  const flood: Raw[] = [];
  try {
    await waitFor(() => fullMesh(nodes), 3000, "a full mesh of 3");
    // Let duplicate dials of the start settle before counting.
    await delay(1000);
    const target = nodes[0]!;
    const downsBefore = nodes.flatMap((n) =>
      n.events
    ).filter((e) => e.kind === "peer_down").length;
    await captureLogs(async () => {
      for (let i = 0; i < 500; i++) {
        flood.push(openRaw(`${target.server.url}/clustd/v1/peer`));
      }
      const opened = await Promise.all(flood.map((raw) => raw.opened));
      const admitted = opened.filter(Boolean).length;
      // At most 16 at a time; the listener takes at most 250 connections a
      // second, so later ones may find the slots of handshakes that timed
      // out (500 ms here) and were closed.
      assert.ok(admitted > 0 && admitted <= 100, `${admitted} admitted`);
      const metrics = target.mesh.metrics();
      const listener = target.server.metrics();
      const refused = metrics.admissionsRefused +
        Object.values(listener.connectionsRefused).reduce((a, b) => a + b, 0);
      // Every connection that was not admitted was refused by a cap: the
      // listener's open connections per source, then the handshakes in
      // progress. Deno's WebSocket client retries a few upgrades whose
      // connection was closed at accept, so a few more may be refused.
      assert.ok(
        refused >= 500 - admitted - 10 && refused <= 500 - admitted + 20,
        `${refused} refused, ${admitted} admitted: ${
          JSON.stringify([
            metrics.admissionsRefusedByReason,
            listener.connectionsRefused,
          ])
        }`,
      );
      assert.ok(metrics.handshakesPending <= 16);
      // The admitted ones say nothing and are closed at the handshake timeout.
      await Promise.all(flood.map((raw) => raw.closed));
    });
    assert.equal(target.mesh.metrics().handshakesPending, 0);
    await delay(100);
    assert.ok(fullMesh(nodes), "real peers stayed connected");
    const downsAfter = nodes.flatMap((n) =>
      n.events
    ).filter((e) => e.kind === "peer_down").length;
    assert.equal(
      downsAfter,
      downsBefore,
      nodes.flatMap((n) => n.events).map((e) =>
        e.kind === "peer_down" ? e.reason : ""
      ).filter((r) => r !== "").join("; "),
    );
    // And the node still admits a legitimate newcomer.
    const channel = await connectChannel(target.server.url, {
      kind: "control",
      psk: SECRET,
      selfId: "cli",
    });
    channel.close();
    await channel.closed;
  } finally {
    for (const raw of flood) raw.ws.close();
    await closeAll(nodes);
  }
});
