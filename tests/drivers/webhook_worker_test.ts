import assert from "node:assert/strict";
import { deriveWebhookKey } from "../../src/config/derived_keys.ts";
import type { WebhookDriverConfig } from "../../src/config/types.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import { WorkerClient } from "../../src/daemon/_worker_client.ts";
import {
  netAddress,
  spawnWebhookWorker,
  webhookWorkerPermissions,
} from "../../src/daemon/_workers.ts";
import { Logger } from "../../src/log.ts";
import { captureLogs } from "../fixtures/drivers/scripts.ts";

const CLUSTER_SECRET = new Uint8Array(32).fill(1);
const OWN_SECRET = new Uint8Array(32).fill(2);

interface Received {
  body: string;
  headers: Headers;
}

/** A loopback HTTP server answering with `respond(n, request)` for the n-th request (1-based). */
function server(
  respond: (n: number, body: string) => number | Promise<number>,
) {
  const received: Received[] = [];
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      received.push({ body, headers: request.headers });
      return new Response(null, {
        status: await respond(received.length, body),
      });
    },
  );
  const url = `http://127.0.0.1:${http.addr.port}/hook`;
  return { http, url, received, [Symbol.asyncDispose]: () => http.shutdown() };
}

async function validSignature(
  key: Uint8Array,
  got: Received,
): Promise<boolean> {
  const header = got.headers.get("x-clustd-signature") ?? "";
  const match = /^sha256=([0-9a-f]{64})$/.exec(header);
  if (match === null) return false;
  const mac = Uint8Array.fromHex(match[1]!);
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify(
    "HMAC",
    cryptoKey,
    mac,
    new TextEncoder().encode(got.body),
  );
}

function webhook(
  url: string,
  config: Partial<WebhookDriverConfig> = {},
): WebhookDriverConfig {
  return {
    type: "webhook",
    id: "webhook-0",
    url,
    timeoutMs: 1000,
    retries: 3,
    ...config,
  };
}

function role(event: "promote" | "demote", term: number): RoleEvent {
  return {
    event,
    reason: event === "promote" ? "elected" : "switchover",
    role: event === "promote" ? "master" : "backup",
    term,
    nodeId: "web-1",
    masterId: event === "promote" ? "web-1" : "web-2",
  };
}

async function withHost(
  config: WebhookDriverConfig,
  body: (host: DriverHost) => Promise<void>,
): Promise<void> {
  const host = new DriverHost([config], {
    nodeId: "web-1",
    webhookKey: await deriveWebhookKey(CLUSTER_SECRET),
  });
  await host.start();
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

Deno.test("webhook retries two 500s and the third request arrives with a valid signature", async () => {
  await using hook = server((n) => (n <= 2 ? 500 : 204));
  using logs = captureLogs();
  await withHost(webhook(hook.url, { secret: OWN_SECRET }), async (host) => {
    host.dispatch(role("promote", 7));
    await host.settled();
    const [stat] = host.stats();
    assert.deepEqual([stat?.runs, stat?.failures], [1, 0]);
  });
  assert.equal(hook.received.length, 3);
  const last = hook.received[2]!;
  assert.ok(
    await validSignature(OWN_SECRET, last),
    "signature verifies with the own secret",
  );
  assert.equal(await validSignature(CLUSTER_SECRET, last), false);
  assert.equal(last.headers.get("x-clustd-event"), "promote");
  assert.equal(last.headers.get("x-clustd-term"), "7");
  assert.equal(last.headers.get("content-type"), "application/json");
  const body = JSON.parse(last.body);
  assert.deepEqual(
    { ...body, time: typeof body.time },
    {
      event: "promote",
      reason: "elected",
      role: "master",
      term: 7,
      node_id: "web-1",
      master_id: "web-1",
      time: "string",
    },
  );
  assert.ok(!Number.isNaN(Date.parse(body.time)));
  // Retries carry the identical signed body.
  assert.equal(hook.received[0]!.body, last.body);
  assert.ok(
    logs.lines.some((l) =>
      l.includes("webhook delivered") && l.includes("attempts=3")
    ),
  );
});

Deno.test("webhook without its own secret signs with a key derived from the cluster secret, not the secret", async () => {
  await using hook = server(() => 200);
  await withHost(webhook(hook.url), async (host) => {
    host.dispatch(role("demote", 2));
    await host.settled();
  });
  assert.equal(hook.received.length, 1);
  const derived = await deriveWebhookKey(CLUSTER_SECRET);
  assert.ok(await validSignature(derived, hook.received[0]!));
  assert.equal(await validSignature(CLUSTER_SECRET, hook.received[0]!), false);
  assert.equal(JSON.parse(hook.received[0]!.body).master_id, "web-2");
});

Deno.test("webhook gives up after `retries` and counts one failure", async () => {
  await using hook = server(() => 503);
  using logs = captureLogs();
  await withHost(webhook(hook.url, { retries: 2 }), async (host) => {
    host.dispatch(role("promote", 1));
    await host.settled();
    assert.deepEqual([host.stats()[0]?.runs, host.stats()[0]?.failures], [
      1,
      1,
    ]);
  });
  assert.equal(hook.received.length, 3);
  assert.ok(
    logs.lines.some((l) =>
      l.includes("webhook failed") && l.includes("HTTP 503")
    ),
  );
});

Deno.test("a newer event supersedes the retries of an older webhook", async () => {
  // The receiver rejects promote and accepts demote.
  await using hook = server((
    _n,
    body,
  ) => (JSON.parse(body).event === "promote" ? 500 : 200));
  using _logs = captureLogs();
  await withHost(webhook(hook.url, { retries: 10 }), async (host) => {
    host.dispatch(role("promote", 1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const startedMs = performance.now();
    host.dispatch(role("demote", 1));
    await host.settled();
    assert.ok(
      performance.now() - startedMs < 1000,
      "demote was not held behind the retries",
    );
  });
  const events = hook.received.map((got) => JSON.parse(got.body).event);
  assert.equal(events.at(-1), "demote");
  assert.equal(events.filter((e) => e === "demote").length, 1);
  assert.ok(
    events.filter((e) => e === "promote").length <= 2,
    events.join(","),
  );
});

Deno.test("webhook attempts time out at timeout_ms and count as timeouts", async () => {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await using hook = server(async () => {
    await held;
    return 200;
  });
  using _logs = captureLogs();
  try {
    await withHost(
      webhook(hook.url, { timeoutMs: 200, retries: 0 }),
      async (host) => {
        const startedMs = performance.now();
        host.dispatch(role("promote", 1));
        await host.settled();
        const elapsedMs = performance.now() - startedMs;
        assert.ok(elapsedMs >= 200 && elapsedMs < 1500, `took ${elapsedMs} ms`);
        assert.deepEqual(
          [host.stats()[0]?.failures, host.stats()[0]?.timeouts],
          [1, 1],
        );
      },
    );
  } finally {
    release();
  }
});

Deno.test("webhook Worker cannot reach a host or port other than its URL's", async () => {
  await using allowed = server(() => 200);
  await using other = server(() => 200);
  const config = webhook(allowed.url, { retries: 2 });
  const client = new WorkerClient(
    "webhook-test",
    () => spawnWebhookWorker(config),
    new Logger("test"),
  );
  await client.start();
  try {
    const post = async (url: string) => {
      const init = await client.request({
        kind: "init",
        url,
        key: OWN_SECRET,
        timeoutMs: 1000,
        retries: 2,
      }, 2000);
      assert.equal(init.kind, "done");
      const reply = await client.request({
        kind: "post",
        fields: {
          event: "promote",
          reason: "elected",
          role: "master",
          term: 1,
          node_id: "a",
          master_id: "a",
        },
        time: new Date().toISOString(),
      }, 10_000);
      assert.equal(reply.kind, "post_result");
      if (reply.kind !== "post_result") throw new Error("unreachable");
      return reply.result;
    };
    // Crafted init: the production Worker, with the production permissions, aimed elsewhere.
    const denied = await post(other.url);
    assert.equal(denied.ok, false);
    assert.equal(denied.errorName, "NotCapable", String(denied.error));
    assert.equal(denied.attempts, 1, "a permission denial is not retried");
    assert.equal(other.received.length, 0);
    const sameHostOtherPort = await post(
      other.url.replace("127.0.0.1", "localhost"),
    );
    assert.equal(sameHostOtherPort.errorName, "NotCapable");
    const ok = await post(allowed.url);
    assert.equal(ok.ok, true);
    assert.equal(allowed.received.length, 1);
  } finally {
    await client.stop(2000);
  }
  assert.deepEqual(webhookWorkerPermissions(config).net, [
    netAddress(allowed.url),
  ]);
  assert.equal(
    netAddress("https://hooks.example.com/x"),
    "hooks.example.com:443",
  );
  assert.equal(netAddress("http://[::1]/x"), "[::1]:80");
});
