/**
 * The accepting WebSocket (`src/websocket/server.ts`) behind the daemon's
 * listener, against Deno's built-in WebSocket client (an independent
 * implementation) and a raw TCP client for what no browser sends: an
 * oversized frame header, endless fragments, unmasked frames.
 */

import assert from "node:assert/strict";
import { HttpServer } from "../../src/http/server.ts";
import { WsServerSocket } from "../../src/websocket/server.ts";
import { encodeFrame } from "../../src/websocket/codec.ts";

/** A listener whose every upgrade becomes an echoing server socket. */
function echoServer() {
  const sockets: WsServerSocket[] = [];
  const server = new HttpServer({
    hostname: "127.0.0.1",
    port: 0,
    handle: (request, client) => ({
      upgrade(conn, buffered) {
        const socket = new WsServerSocket(conn, {
          headers: request.headers,
          buffered,
          remote: client.address,
        });
        socket.binaryType = "arraybuffer";
        socket.onmessage = (event) => socket.send(event.data);
        sockets.push(socket);
      },
    }),
  });
  const port = server.listen().port;
  return {
    url: `ws://127.0.0.1:${port}/clustd/v1/peer`,
    port,
    sockets,
    async close() {
      for (const socket of sockets) socket.close();
      await Promise.all(sockets.map((s) => s.finished));
      await server.close();
    },
  };
}

/** Opens a raw TCP connection and upgrades it; returns the conn. */
async function rawUpgrade(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /clustd/v1/peer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const head = new Uint8Array(1024);
  const count = await conn.read(head);
  const text = new TextDecoder().decode(head.subarray(0, count ?? 0));
  assert.match(text, /^HTTP\/1\.1 101 /);
  assert.match(text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  return conn;
}

/** Reads until the server closes; returns what it sent and how long it took. */
async function untilClosed(conn: Deno.Conn, limitMs = 3000) {
  const started = performance.now();
  const chunk = new Uint8Array(4096);
  const parts: number[] = [];
  const timer = setTimeout(() => conn.close(), limitMs);
  try {
    for (;;) {
      const count = await conn.read(chunk);
      if (count === null) break;
      parts.push(...chunk.subarray(0, count));
    }
  } catch (_error: unknown) {
    // Reset by the server or closed by the timer.
  } finally {
    clearTimeout(timer);
  }
  return { bytes: new Uint8Array(parts), ms: performance.now() - started };
}

Deno.test("WsServerSocket echoes text, binary and 60 KiB messages to Deno's WebSocket", async () => {
  const server = echoServer();
  const ws = new WebSocket(server.url);
  ws.binaryType = "arraybuffer";
  const got: unknown[] = [];
  ws.onmessage = (event) => got.push(event.data);
  await new Promise((resolve) => ws.onopen = resolve);
  ws.send("hello");
  ws.send(new Uint8Array([1, 2, 3]));
  ws.send(new Uint8Array(60 * 1024).fill(7));
  while (got.length < 3) await new Promise((r) => setTimeout(r, 5));
  assert.equal(got[0], "hello");
  assert.deepEqual(
    new Uint8Array(got[1] as ArrayBuffer),
    new Uint8Array([1, 2, 3]),
  );
  assert.equal((got[2] as ArrayBuffer).byteLength, 60 * 1024);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  server.sockets[0]!.close(4000, "bye");
  const event = await closed;
  assert.equal(event.code, 4000);
  assert.equal(event.reason, "bye");
  await server.close();
});

Deno.test("WsServerSocket closes the TCP connection at once on an oversized frame header", async () => {
  const server = echoServer();
  const conn = await rawUpgrade(server.port);
  // A masked binary frame claiming 50 MB (far over
  // WS_MESSAGE_BYTES_MAX_DEFAULT), and not one byte of it.
  const head = new Uint8Array([
    0x82,
    0xff,
    0,
    0,
    0,
    0,
    0x03,
    0x20,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  await conn.write(head);
  const { bytes, ms } = await untilClosed(conn);
  assert.ok(ms < 1500, `closed after ${ms} ms`);
  // The close frame carries 1009 (message too big).
  assert.equal(bytes[0], 0x88);
  assert.equal((bytes[2]! << 8) | bytes[3]!, 1009);
  // The socket is finished: its connection is closed on our side too.
  await server.sockets[0]!.finished;
  assert.equal(server.sockets[0]!.readyState, WsServerSocket.CLOSED);
  await server.close();
});

Deno.test("WsServerSocket refuses endless fragments and unmasked frames", async () => {
  const server = echoServer();
  const conn = await rawUpgrade(server.port);
  const mask = new Uint8Array(4);
  const first = encodeFrame(0x1, new Uint8Array(0), mask);
  first[0] = 0x01;
  const more = encodeFrame(0x0, new Uint8Array(0), mask);
  more[0] = 0x00;
  await conn.write(first);
  for (let i = 0; i < 200; i++) {
    try {
      await conn.write(more);
    } catch (_error: unknown) {
      break; // The server already closed.
    }
  }
  const fragments = await untilClosed(conn);
  assert.equal((fragments.bytes[2]! << 8) | fragments.bytes[3]!, 1009);

  const plain = await rawUpgrade(server.port);
  await plain.write(encodeFrame(0x1, new TextEncoder().encode("x"), undefined));
  const unmasked = await untilClosed(plain);
  assert.equal((unmasked.bytes[2]! << 8) | unmasked.bytes[3]!, 1002);
  await server.close();
});

Deno.test("WsServerSocket drops a client that pings and never reads the pongs", async () => {
  const server = echoServer();
  const conn = await rawUpgrade(server.port);
  const ping = encodeFrame(0x9, new Uint8Array(125), new Uint8Array(4));
  const batch = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
  // Write pings until the server gives up (bounded: 200 MB of pongs owed).
  let closed = false;
  for (let i = 0; i < 1600 && !closed; i++) {
    try {
      await conn.write(batch);
    } catch (_error: unknown) {
      closed = true;
    }
  }
  assert.ok(closed, "the server closed the connection");
  await server.sockets[0]!.finished;
  try {
    conn.close();
  } catch (_error: unknown) {
    // Already closed by the failed write.
  }
  await server.close();
});
