/**
 * Tests of the mesh's own WebSocket client (`src/websocket/client.ts`)
 * against a real `Deno.serve` + `Deno.upgradeWebSocket` server, and against
 * a raw TCP server for what Deno's server never sends (fragments, pings,
 * masked frames, broken upgrades). The Nagle test is the reason the client
 * exists: it must deliver a message sent 5 ms after a one-way one at once.
 */

import assert from "node:assert/strict";
import {
  WS_MESSAGE_BYTES_MAX_DEFAULT,
  WsClient,
} from "../../src/websocket/client.ts";
import { acceptKey, encodeFrame } from "../../src/websocket/codec.ts";
import { MessageReader } from "../../src/websocket/reader.ts";
import { delay } from "../mesh/_helpers.ts";

const NAGLE_ROUNDS = 15;
const NAGLE_DELAY_MS_MAX = 5;

interface Recorder {
  opened: Promise<void>;
  closed: Promise<CloseEvent>;
  messages: unknown[];
  errors: string[];
}

function record(ws: WsClient | WebSocket): Recorder {
  const messages: unknown[] = [];
  const errors: string[] = [];
  const opened = new Promise<void>((resolve) => ws.onopen = () => resolve());
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  ws.onmessage = (event: MessageEvent) => messages.push(event.data);
  ws.onerror = (event: Event) =>
    errors.push(event instanceof ErrorEvent ? event.message : "error");
  return { opened, closed, messages, errors };
}

/** Deno.serve on 127.0.0.1 upgrading every request; plain 404 if `plain`. */
function serveWs(onSocket: (socket: WebSocket) => void, plain = false) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      if (plain) return new Response("nothing here\n", { status: 404 });
      const { socket, response } = Deno.upgradeWebSocket(request);
      onSocket(socket);
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/clustd/v1/peer`,
    close: () => server.shutdown(),
  };
}

async function readHead(conn: Deno.Conn): Promise<string> {
  let text = "";
  const chunk = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n") && text.length < 16384) {
    const count = await conn.read(chunk);
    if (count === null) break;
    text += new TextDecoder().decode(chunk.subarray(0, count));
  }
  return text;
}

/** A one-connection raw TCP server; `script` gets the request head. */
function rawServer(script: (conn: Deno.Conn, head: string) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    try {
      await script(conn, await readHead(conn));
    } finally {
      conn.close();
    }
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}/`,
    async close() {
      listener.close();
      await done;
    },
  };
}

async function upgradeResponse(head: string, accept?: string) {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? "";
  const value = accept ?? await acceptKey(key);
  return new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${value}\r\n\r\n`,
  );
}

/** An unmasked server frame (or masked, to test refusal). */
function serverFrame(opcode: number, payload: string, fin = true) {
  const bytes = new TextEncoder().encode(payload);
  return new Uint8Array([(fin ? 0x80 : 0) | opcode, bytes.length, ...bytes]);
}

/** Reads one client frame and unmasks it. */
async function readClientFrame(conn: Deno.Conn) {
  const chunk = new Uint8Array(256);
  let got = 0;
  while (got < 2 || got < 6 + (chunk[1]! & 0x7f)) {
    const count = await conn.read(chunk.subarray(got));
    if (count === null) throw new Error("client closed the connection");
    got += count;
  }
  assert.ok((chunk[1]! & 0x80) !== 0, "client frames are masked");
  const length = chunk[1]! & 0x7f;
  const payload = chunk.slice(6, 6 + length).map((b, i) =>
    b ^ chunk[2 + (i & 3)]!
  );
  return { opcode: chunk[0]! & 0x0f, payload };
}

Deno.test("acceptKey() matches the RFC 6455 example", async () => {
  assert.equal(
    await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("encodeFrame() masks and uses 7, 16 and 64-bit lengths", () => {
  const mask = new Uint8Array([1, 2, 3, 4]);
  for (const [size, headerBytes] of [[125, 6], [126, 8], [70000, 14]]) {
    const frame = encodeFrame(2, new Uint8Array(size!).fill(9), mask);
    assert.equal(frame.length, headerBytes! + size!);
    assert.equal(frame[headerBytes!], 9 ^ 1);
  }
});

Deno.test("MessageReader refuses an oversized message from its header", () => {
  const reader = new MessageReader(1000);
  // A binary frame header announcing 1001 bytes, with no payload yet.
  reader.push(new Uint8Array([0x82, 126, 0x03, 0xe9]));
  const item = reader.next();
  assert.equal(item?.kind, "problem");
  assert.equal(item.kind === "problem" && item.code, 1009);
});

Deno.test("WsClient round-trips text, binary and 60 KiB messages", async () => {
  const server = serveWs((socket) => {
    socket.onmessage = (event) => socket.send(event.data);
  });
  const ws = new WsClient(server.url);
  ws.binaryType = "arraybuffer";
  const events = record(ws);
  await events.opened;
  assert.equal(ws.readyState, WsClient.OPEN);
  const large = crypto.getRandomValues(new Uint8Array(60 * 1024));
  ws.send("héllo");
  ws.send(new Uint8Array([1, 2, 3]));
  ws.send(large);
  ws.send("x".repeat(60 * 1024));
  const deadline = Date.now() + 3000;
  while (events.messages.length < 4 && Date.now() < deadline) await delay(5);
  const [text, small, big, bigText] = events.messages;
  assert.equal(text, "héllo");
  assert.ok(small instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(small), new Uint8Array([1, 2, 3]));
  assert.ok(big instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(big), large);
  assert.equal(bigText, "x".repeat(60 * 1024));
  ws.close(1000, "done");
  assert.equal((await events.closed).code, 1000);
  await ws.finished;
  await server.close();
});

Deno.test("WsClient reassembles fragments and answers a ping between them", async () => {
  let pong: Uint8Array | undefined;
  let echoedClose: number | undefined;
  const server = rawServer(async (conn, head) => {
    await conn.write(await upgradeResponse(head));
    await conn.write(serverFrame(0x1, "hel", false));
    await conn.write(serverFrame(0x9, "p1"));
    await conn.write(serverFrame(0x0, "lo ", false));
    await conn.write(serverFrame(0x0, "world"));
    pong = (await readClientFrame(conn)).payload;
    await conn.write(new Uint8Array([0x88, 4, 0x0f, 0xa2, 0x6f, 0x6b]));
    const close = await readClientFrame(conn);
    echoedClose = close.opcode === 8
      ? (close.payload[0]! << 8) | close.payload[1]!
      : -1;
  });
  const ws = new WsClient(server.url);
  const events = record(ws);
  const closed = await events.closed;
  await ws.finished;
  await server.close();
  assert.deepEqual(events.messages, ["hello world"]);
  assert.equal(new TextDecoder().decode(pong), "p1");
  assert.equal(closed.code, 4002);
  assert.equal(closed.reason, "ok");
  assert.equal(closed.wasClean, true);
  assert.equal(echoedClose, 4002);
});

Deno.test("WsClient close codes and reasons travel both ways", async () => {
  const serverCloses: [number, string][] = [];
  const server = serveWs((socket) => {
    socket.onclose = (event) => serverCloses.push([event.code, event.reason]);
    socket.onmessage = (event) => {
      if (event.data === "close me") socket.close(4002, "server says bye");
    };
  });
  const first = new WsClient(server.url);
  const firstEvents = record(first);
  await firstEvents.opened;
  // Deno's own client throws on 1008; ours sends it like any valid code.
  first.close(1008, "policy");
  const firstClosed = await firstEvents.closed;
  assert.deepEqual([firstClosed.code, firstClosed.wasClean], [1008, true]);
  const second = new WsClient(server.url);
  const secondEvents = record(second);
  await secondEvents.opened;
  second.send("close me");
  const secondClosed = await secondEvents.closed;
  assert.deepEqual(
    [secondClosed.code, secondClosed.reason, secondClosed.wasClean],
    [4002, "server says bye", true],
  );
  await Promise.all([first.finished, second.finished]);
  await delay(20);
  assert.deepEqual(serverCloses[0], [1008, "policy"]);
  assert.equal(serverCloses[1]?.[0], 4002);
  assert.throws(() => first.close(1006), /close code/);
  await server.close();
});

Deno.test("WsClient refuses a server that answers without 101", async () => {
  const server = serveWs(() => {}, true);
  const ws = new WsClient(server.url);
  const events = record(ws);
  let opened = false;
  void events.opened.then(() => opened = true);
  const closed = await events.closed;
  await ws.finished;
  await server.close();
  assert.equal(opened, false);
  assert.equal(closed.code, 1006);
  assert.equal(ws.readyState, WsClient.CLOSED);
  assert.match(events.errors[0] ?? "", /answered "404 Not Found" instead of/);
});

Deno.test("WsClient refuses a wrong Sec-WebSocket-Accept", async () => {
  const server = rawServer(async (conn, head) => {
    await conn.write(await upgradeResponse(head, "d3Jvbmc="));
    await conn.read(new Uint8Array(16));
  });
  const ws = new WsClient(server.url);
  const events = record(ws);
  assert.equal((await events.closed).code, 1006);
  await ws.finished;
  await server.close();
  assert.match(
    events.errors[0] ?? "",
    /Sec-WebSocket-Accept "d3Jvbmc=", expected/,
  );
});

Deno.test("WsClient refuses an oversized message and a masked frame", async () => {
  const server = serveWs((socket) => {
    socket.onmessage = (event) => {
      socket.send(new Uint8Array(Number(event.data)));
    };
  });
  const ws = new WsClient(server.url);
  ws.binaryType = "arraybuffer";
  const events = record(ws);
  await events.opened;
  // A message whose payload and header fit the limit arrives; one byte
  // past the limit is refused from the header.
  const fits = WS_MESSAGE_BYTES_MAX_DEFAULT - 14;
  ws.send(String(fits));
  ws.send(String(WS_MESSAGE_BYTES_MAX_DEFAULT + 1));
  const closed = await events.closed;
  await ws.finished;
  await server.close();
  assert.equal(events.messages.length, 1);
  assert.equal((events.messages[0] as ArrayBuffer).byteLength, fits);
  assert.equal(closed.code, 1009);
  assert.match(
    events.errors[0] ?? "",
    new RegExp(`exceeds ${WS_MESSAGE_BYTES_MAX_DEFAULT}$`),
  );

  const raw = rawServer(async (conn, head) => {
    await conn.write(await upgradeResponse(head));
    await conn.write(new Uint8Array([0x81, 0x81, 0, 0, 0, 0, 0x41]));
    await readClientFrame(conn);
  });
  const masked = new WsClient(raw.url);
  const maskedEvents = record(masked);
  assert.equal((await maskedEvents.closed).code, 1002);
  await masked.finished;
  await raw.close();
  assert.deepEqual(maskedEvents.messages, []);
  assert.match(maskedEvents.errors[0] ?? "", /masked/);
});

Deno.test("WsClient reports an unreachable port and a close while connecting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const refused = new WsClient(`ws://127.0.0.1:${port}/`);
  const refusedEvents = record(refused);
  assert.equal((await refusedEvents.closed).code, 1006);
  assert.match(refusedEvents.errors[0] ?? "", /failed/);
  const server = serveWs(() => {});
  const early = new WsClient(server.url);
  const earlyEvents = record(early);
  early.close();
  assert.equal((await earlyEvents.closed).code, 1006);
  await Promise.all([refused.finished, early.finished]);
  await server.close();
});

/** One-way X, then Y 5 ms later; returns Y's delay per round in ms. */
async function nagleDelaysMs(ws: WsClient | WebSocket, arrivals: number[]) {
  const delays: number[] = [];
  await delay(100);
  for (let round = 0; round < NAGLE_ROUNDS; round++) {
    const before = arrivals.length;
    ws.send(JSON.stringify({ x: round }));
    await delay(5);
    const sentAt = performance.now();
    ws.send(JSON.stringify({ y: round }));
    const deadline = sentAt + 200;
    while (arrivals.length < before + 2 && performance.now() < deadline) {
      await delay(1);
    }
    delays.push((arrivals[before + 1] ?? Infinity) - sentAt);
    await delay(20);
  }
  return delays;
}

Deno.test("WsClient delivers a message sent 5 ms after a one-way one at once (TCP_NODELAY)", async () => {
  const arrivals: number[] = [];
  const server = serveWs((socket) => {
    socket.onmessage = () => arrivals.push(performance.now());
  });
  const builtIn = new WebSocket(server.url);
  const builtInEvents = record(builtIn);
  await builtInEvents.opened;
  const builtInDelays = await nagleDelaysMs(builtIn, arrivals);
  builtIn.close();
  await builtInEvents.closed;
  arrivals.length = 0;
  const ws = new WsClient(server.url);
  const events = record(ws);
  await events.opened;
  const delays = await nagleDelaysMs(ws, arrivals);
  ws.close();
  await events.closed;
  await ws.finished;
  await server.close();
  const show = (values: number[]) => values.map((v) => v.toFixed(1)).join(" ");
  console.log(`built-in WebSocket, Y delay ms: ${show(builtInDelays)}`);
  console.log(`WsClient,           Y delay ms: ${show(delays)}`);
  for (const [round, value] of delays.entries()) {
    assert.ok(
      value < NAGLE_DELAY_MS_MAX,
      `round ${round}: Y arrived after ${value.toFixed(1)} ms`,
    );
  }
});
