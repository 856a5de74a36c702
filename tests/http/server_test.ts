/**
 * The daemon's own listener (`src/http/server.ts`): probes through a real
 * HTTP client, keep-alive, bounded and strict request heads, the header
 * timeout, caps per source, and the upgrade hand-off with the bytes read
 * past the head. Plus the source key (IPv6 by /64).
 */

import assert from "node:assert/strict";
import net from "node:net";
import { HttpServer, type HttpServerOptions } from "../../src/http/server.ts";
import { sourceKey } from "../../src/http/source.ts";

function serve(options: Partial<HttpServerOptions> = {}) {
  const server = new HttpServer({
    hostname: "127.0.0.1",
    port: 0,
    handle: (request, client) =>
      new Response(
        `${request.method} ${new URL(request.url).pathname} ${client.source}`,
      ),
    ...options,
  });
  const port = server.listen().port;
  return { server, port };
}

/** Sends `text` on a fresh connection and reads until the server closes (bounded). */
async function exchange(port: number, text: string, limitMs = 3000) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  const started = performance.now();
  const timer = setTimeout(() => conn.close(), limitMs);
  let out = "";
  const chunk = new Uint8Array(4096);
  try {
    for (;;) {
      const count = await conn.read(chunk);
      if (count === null) break;
      out += new TextDecoder().decode(chunk.subarray(0, count));
    }
    conn.close();
  } catch (_error: unknown) {
    // Closed by the timer: the caller checks the time.
  } finally {
    clearTimeout(timer);
  }
  return { out, ms: performance.now() - started };
}

Deno.test("HttpServer answers fetch through the handler, GET and HEAD", async () => {
  const { server, port } = serve();
  try {
    const get = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(await get.text(), "GET /health 127.0.0.1");
    const head = await fetch(`http://127.0.0.1:${port}/master`, {
      method: "HEAD",
    });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal(server.metrics().requests, 2);
  } finally {
    await server.close();
  }
});

Deno.test("HttpServer serves kept-alive requests in order and closes on Connection: close", async () => {
  const { server, port } = serve();
  try {
    const { out } = await exchange(
      port,
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const answers = out.split("HTTP/1.1 200 OK").slice(1);
    assert.equal(answers.length, 2);
    assert.match(answers[0]!, /connection: keep-alive[\s\S]*GET \/a/);
    assert.match(answers[1]!, /connection: close[\s\S]*GET \/b/);
  } finally {
    await server.close();
  }
});

Deno.test("HttpServer refuses malformed and oversized heads with 400 and 431", async () => {
  const { server, port } = serve();
  try {
    assert.match(
      (await exchange(port, "GET /x\r\n\r\n")).out,
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      (await exchange(port, "GET /x HTTP/1.1\r\n\r\n")).out,
      /^HTTP\/1\.1 400 [\s\S]*without Host/,
    );
    assert.match(
      (await exchange(
        port,
        `GET /x HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(9000)}`,
      )).out,
      /^HTTP\/1\.1 431 /,
    );
    assert.match(
      (await exchange(port, "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n")).out,
      /^HTTP\/1\.1 405 /,
    );
    const bad = server.metrics().badRequests;
    assert.equal(bad.malformed, 2);
    assert.equal(bad.too_large, 1);
  } finally {
    await server.close();
  }
});

Deno.test("HttpServer closes a silent or trickling connection at the header timeout", async () => {
  const { server, port } = serve({ headerTimeoutMs: 300 });
  try {
    const silent = await exchange(port, "");
    assert.equal(silent.out, "");
    assert.ok(silent.ms >= 250 && silent.ms < 2000, `${silent.ms} ms`);
    const partial = await exchange(port, "GET /x HTTP/1.1\r\nHost");
    assert.equal(partial.out, "");
    assert.ok(partial.ms < 2000, `${partial.ms} ms`);
    assert.equal(server.metrics().badRequests.timeout, 2);
  } finally {
    await server.close();
  }
});

Deno.test("HttpServer caps open connections per source and leaves other sources room", async () => {
  const { server, port } = serve({ connectionsPerSourceMax: 2 });
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await new Promise((r) => setTimeout(r, 50));
    const third = await exchange(port, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(third.out, "", "the third connection is closed unanswered");
    assert.equal(server.metrics().connectionsRefused.connections_per_source, 1);
    // Another loopback address is another source.
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect({
        host: "127.0.0.1",
        port,
        localAddress: "127.0.0.2",
      });
      let text = "";
      socket.on(
        "data",
        (chunk: Uint8Array) => text += new TextDecoder().decode(chunk),
      );
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(text));
      socket.write("GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    });
    assert.match(answer, /GET \/y 127\.0\.0\.2/);
  } finally {
    for (const conn of held) conn.close();
    await server.close();
  }
});

Deno.test("HttpServer hands an upgrade its connection and the bytes past the head", async () => {
  let handed: Uint8Array | undefined;
  const { server, port } = serve({
    handle: () => ({
      upgrade(conn, buffered) {
        handed = buffered;
        conn.close();
      },
    }),
  });
  try {
    await exchange(
      port,
      "GET /clustd/v1/peer HTTP/1.1\r\nHost: x\r\n\r\nEXTRA",
    );
    assert.equal(new TextDecoder().decode(handed), "EXTRA");
    assert.equal(server.metrics().upgrades, 1);
    assert.equal(server.metrics().connectionsOpen, 0);
  } finally {
    await server.close();
  }
});

Deno.test("sourceKey() groups IPv6 by /64 and unmaps IPv4-mapped addresses", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"],
    ["[2001:0db8:0001:0002::5]", "2001:db8:1:2::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
  ];
  for (const [address, key] of cases) {
    assert.equal(sourceKey(address), key, address);
  }
});
