/**
 * The etcd client against fake gateways on loopback that misbehave: a hung
 * endpoint, "unavailable", a refused request, an expired auth token, and
 * watch streams with bad lines. Every fault must end in a clear error or a
 * failover, never a hang or a crash.
 */
import assert from "node:assert/strict";
import { EtcdClient, EtcdError } from "../../src/etcd/client.ts";
import { EtcdWatch, WATCH_LINE_MAX_BYTES } from "../../src/etcd/watch.ts";
import { waitFor } from "../_process.ts";

type Handler = (
  path: string,
  body: Record<string, unknown>,
  request: Request,
) => Response | Promise<Response>;

/** A fake gateway on 127.0.0.1; returns its URL and a closer. */
function fakeGateway(
  handler: Handler,
): { url: string; close: () => Promise<void> } {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const body = await request.json().catch(() => ({})) as Record<
      string,
      unknown
    >;
    return handler(new URL(request.url).pathname, body, request);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });

const RANGE_OK = { header: { revision: "7" }, kvs: [], count: "0" };

Deno.test("etcd client: a hung endpoint is left for the next within the call's budget", async () => {
  // Never answers; lets go only when the client gives up on the request.
  const hung = fakeGateway((_path, _body, request) =>
    new Promise<Response>((resolve) =>
      request.signal.addEventListener(
        "abort",
        () => resolve(new Response(null, { status: 503 })),
      )
    )
  );
  const good = fakeGateway(() => json(RANGE_OK));
  const client = new EtcdClient({ endpoints: [hung.url, good.url] });
  try {
    const started = performance.now();
    const read = await client.range("/x", { timeoutMs: 1000 });
    assert.equal(read.revision, 7);
    assert.ok(performance.now() - started < 1500);
    assert.equal(client.endpoint, good.url);
  } finally {
    client.close();
    await good.close();
    await hung.close();
  }
});

Deno.test("etcd client: unavailable fails over; a refused request does not", async () => {
  let secondCalls = 0;
  const down = fakeGateway(() =>
    json({
      error: "etcdserver: no leader",
      code: 14,
      message: "etcdserver: no leader",
    }, 503)
  );
  const second = fakeGateway((path) => {
    secondCalls++;
    return path === "/v3/kv/put"
      ? json({
        error: "bad",
        code: 3,
        message: "etcdserver: key is not provided",
      }, 400)
      : json(RANGE_OK);
  });
  const client = new EtcdClient({ endpoints: [down.url, second.url] });
  try {
    assert.equal((await client.range("/x")).revision, 7);
    await assert.rejects(
      () => client.put("", "v"),
      (error: unknown) =>
        error instanceof EtcdError && error.code === 3 &&
        /key is not provided/.test(error.message),
    );
    assert.equal(secondCalls, 2);
  } finally {
    client.close();
    await down.close();
    await second.close();
  }
});

Deno.test("etcd client: an expired token is renewed once, then the call is retried", async () => {
  let tokens = 0;
  const gateway = fakeGateway((path, body, request) => {
    if (path === "/v3/auth/authenticate") {
      assert.equal(body["name"], "u");
      assert.equal(body["password"], "pw");
      return json({ token: `t${++tokens}` });
    }
    // The first token "expires" at once.
    if (request.headers.get("authorization") !== "t2") {
      return json({
        error: "invalid auth token",
        code: 16,
        message: "etcdserver: invalid auth token",
      }, 401);
    }
    return json(RANGE_OK);
  });
  const client = new EtcdClient({
    endpoints: [gateway.url],
    username: "u",
    password: "pw",
  });
  try {
    assert.equal((await client.range("/x")).revision, 7);
    assert.equal(tokens, 2);
  } finally {
    client.close();
    await gateway.close();
  }
});

Deno.test("etcd client: a keepalive of a lease etcd no longer has answers TTL 0", async () => {
  const gateway = fakeGateway(() =>
    json({ result: { header: { revision: "3" }, ID: "42" } })
  );
  const client = new EtcdClient({ endpoints: [gateway.url] });
  try {
    assert.equal(await client.leaseKeepAlive("42"), 0);
  } finally {
    client.close();
    await gateway.close();
  }
});

for (
  const [name, lines, reason] of [
    [
      "invalid JSON",
      ['{"result":{"created":true}}\n', "{nope\n"],
      /invalid JSON/,
    ],
    ["an over-long line", [
      '{"result":{"created":true}}\n',
      "x".repeat(WATCH_LINE_MAX_BYTES + 10),
    ], /too long/],
    [
      "a compaction",
      ['{"result":{"canceled":true,"compact_revision":"9"}}\n'],
      /compacted at 9/,
    ],
  ] as const
) {
  Deno.test(`etcd watch: ${name} ends the stream with the reason`, async () => {
    const gateway = fakeGateway(() =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (const line of lines) {
              controller.enqueue(new TextEncoder().encode(line));
            }
            // Left open: the watch must end by itself.
          },
        }),
      )
    );
    const client = new EtcdClient({ endpoints: [gateway.url] });
    let ended = "";
    const watch = new EtcdWatch(client, "/p/", { prefix: true }, {
      onEvents: () => {},
      onEnd: (why) => ended = why,
    });
    try {
      assert.ok(
        await waitFor(() => ended !== "", 3000),
        "the watch did not end",
      );
      assert.match(ended, reason);
    } finally {
      watch.close();
      await watch.done;
      client.close();
      await gateway.close();
    }
  });
}

Deno.test("etcd client: a pinned call stays on the endpoint that answered last", async () => {
  let firstUp = true;
  const first = fakeGateway(() =>
    firstUp ? json(RANGE_OK) : json({ code: 14, message: "no leader" }, 503)
  );
  const second = fakeGateway(() => json(RANGE_OK));
  const client = new EtcdClient({ endpoints: [first.url, second.url] });
  try {
    await client.range("/x");
    firstUp = false;
    await assert.rejects(
      () => client.range("/x", { pinned: true }),
      (error: unknown) => error instanceof EtcdError && error.code === 14,
    );
    assert.equal(client.endpoint, first.url);
    // Unpinned, the same call fails over.
    assert.equal((await client.range("/x")).revision, 7);
    assert.equal(client.endpoint, second.url);
  } finally {
    client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("etcd client: a pinned call goes to the endpoint that answered last, not the first", async () => {
  // The first endpoint is down (as a killed etcd leader would be): the
  // keepalive fails over to the second, and the confirming read that must
  // follow it to the same member may not go back to the first.
  const down = fakeGateway(() =>
    json({ code: 14, message: "unavailable" }, 503)
  );
  const seen: string[] = [];
  const good = fakeGateway((path) => {
    seen.push(path);
    return json(RANGE_OK);
  });
  const client = new EtcdClient({ endpoints: [down.url, good.url] });
  try {
    await client.range("/k", { timeoutMs: 2000 });
    await client.range("/k", { timeoutMs: 2000, pinned: true });
    assert.deepEqual(seen, ["/v3/kv/range", "/v3/kv/range"]);
  } finally {
    client.close();
    await down.close();
    await good.close();
  }
});
