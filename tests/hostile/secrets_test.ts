/**
 * Secrets kept with the one party that needs them (issue 11), against the
 * real daemon and CLI: one external driver's key cannot take over another
 * driver's id; webhooks are signed with the derived key that `clustd
 * derive-key webhook` prints, never with the cluster secret; a secret a
 * group or others can read, a driver token or webhook secret equal to the
 * cluster secret, all refuse to start.
 */

import assert from "node:assert/strict";
import { connectDriver } from "../../drivers/sdk.ts";
import { connectChannel } from "../../src/mesh/client.ts";
import { runClustd } from "../_process.ts";
import { DriverNode, randomKey, sleep, waitFor } from "../drivers/_daemon.ts";

/** Takeover attempts per case; each is one full handshake. */
const ATTEMPTS = 8;

Deno.test("one external driver's key cannot take over another driver's id", async () => {
  const node = new DriverNode({ driverIds: ["alpha", "beta"] });
  const alphaKey = Uint8Array.fromBase64(await node.keyOf("alpha"));
  let betaConnects = 0;
  let betaDrops = 0;
  const beta = connectDriver({
    url: node.url,
    token: await node.keyOf("beta"),
    driverId: "beta",
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    onEvent: () => {},
    onStatus(status) {
      if (status.kind === "connected") betaConnects++;
      if (status.kind === "disconnected") betaDrops++;
    },
  });
  try {
    node.start();
    assert.ok(await waitFor(() => beta.connected, 10_000), node.log());
    const dropsBefore = betaDrops;
    const attempts: [string, Uint8Array][] = [
      ["alpha's key", alphaKey],
      ["the driver token itself", Uint8Array.fromBase64(node.token)],
      ["the cluster secret", node.secretBytes],
      ["a random key", Uint8Array.fromBase64(randomKey())],
    ];
    for (const [what, psk] of attempts) {
      for (let i = 0; i < ATTEMPTS; i++) {
        await assert.rejects(
          connectChannel(node.url, { kind: "driver", psk, selfId: "beta" }),
          /handshake failed \(auth\)/,
          `${what} opened driver id "beta"`,
        );
      }
    }
    // An id that is not configured fails the same way: no id enumeration.
    await assert.rejects(
      connectChannel(node.url, {
        kind: "driver",
        psk: alphaKey,
        selfId: "gamma",
      }),
      /handshake failed \(auth\)/,
    );
    await sleep(200);
    assert.ok(beta.connected, "the real beta was pushed off");
    assert.equal(betaConnects, 1);
    assert.equal(betaDrops, dropsBefore);
    const connects = node.log().split("\n").filter((line) =>
      line.includes("external driver connected") && line.includes("beta")
    );
    assert.equal(connects.length, 1, connects.join("\n"));
    // alpha's key still opens alpha.
    const alpha = await connectChannel(node.url, {
      kind: "driver",
      psk: alphaKey,
      selfId: "alpha",
    });
    alpha.close("done");
  } finally {
    await beta.close();
    await node.close();
  }
});

Deno.test("webhooks are signed with the key `clustd derive-key webhook` prints, not the cluster secret", async () => {
  const bodies: { body: string; signature: string }[] = [];
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      bodies.push({
        body: await request.text(),
        signature: request.headers.get("x-clustd-signature") ?? "",
      });
      return new Response(null, { status: 204 });
    },
  );
  const node = new DriverNode({
    driverIds: [],
    extraDrivers:
      `  - type: webhook\n    url: http://127.0.0.1:${receiver.addr.port}/hook\n`,
  });
  try {
    const derived = await runClustd([
      "derive-key",
      "webhook",
      "--config",
      node.configPath,
    ]);
    assert.equal(derived.code, 0, derived.stderr);
    const key = Uint8Array.fromBase64(derived.stdout.trim());
    node.start();
    assert.ok(
      await waitFor(
        () => bodies.some((b) => b.body.includes("promote")),
        15_000,
      ),
      node.log(),
    );
    const hook = bodies.find((b) => b.body.includes("promote"))!;
    const mac = Uint8Array.fromHex(hook.signature.replace(/^sha256=/, ""));
    const verify = async (bytes: Uint8Array) => {
      const cryptoKey = await crypto.subtle.importKey(
        "raw",
        new Uint8Array(bytes),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      return crypto.subtle.verify(
        "HMAC",
        cryptoKey,
        mac,
        new TextEncoder().encode(hook.body),
      );
    };
    assert.equal(await verify(key), true, "derived key verifies");
    assert.equal(await verify(node.secretBytes), false, "secret must not");
  } finally {
    await node.close();
    await receiver.shutdown();
  }
});

Deno.test("secrets where another party could use them refuse to start, naming the key and the fix", async () => {
  const node = new DriverNode({ driverIds: ["ext"] });
  const base = Deno.readTextFileSync(node.configPath);
  const inline = base.replace(
    `secret_file: ${node.dir}/secret`,
    `secret: ${node.secret}`,
  );
  const cases: {
    name: string;
    setup: () => void;
    config: string;
    mode: number;
    message: RegExp;
  }[] = [
    {
      name: "group-readable secret file",
      setup: () => Deno.chmodSync(`${node.dir}/secret`, 0o640),
      config: base,
      mode: 0o600,
      message:
        /cluster\.secret_file: .*readable by group or others \(mode 0640\): run "chmod 600/,
    },
    {
      name: "world-readable driver token file",
      setup: () => Deno.chmodSync(node.tokenPath, 0o604),
      config: base,
      mode: 0o600,
      message: /cluster\.driver_token_file: .*\(mode 0604\)/,
    },
    {
      name: "inline secret in a group-readable config",
      setup: () => {},
      config: inline,
      mode: 0o640,
      message:
        /cluster\.secret: .*holds this secret and is readable by group or others \(mode 0640\)/,
    },
    {
      name: "driver token equal to the cluster secret",
      setup: () =>
        Deno.writeTextFileSync(node.tokenPath, node.secret + "\n", {
          mode: 0o600,
        }),
      config: base,
      mode: 0o600,
      message:
        /cluster\.driver_token_file: The driver token is the cluster secret/,
    },
    {
      name: "webhook secret equal to the cluster secret",
      setup: () => {},
      config:
        `${base}  - type: webhook\n    url: http://127.0.0.1:9/hook\n    secret: ${node.secret}\n`,
      mode: 0o600,
      message: /drivers\[1\]\.secret: The webhook secret is the cluster secret/,
    },
  ];
  try {
    for (const c of cases) {
      Deno.chmodSync(`${node.dir}/secret`, 0o600);
      Deno.writeTextFileSync(node.tokenPath, node.token + "\n", {
        mode: 0o600,
      });
      Deno.chmodSync(node.tokenPath, 0o600);
      c.setup();
      Deno.writeTextFileSync(node.configPath, c.config, { mode: c.mode });
      Deno.chmodSync(node.configPath, c.mode);
      const result = await runClustd(["run", "--config", node.configPath]);
      assert.equal(result.code, 2, `${c.name}: ${result.stderr}`);
      assert.match(result.stderr, c.message, c.name);
      assert.ok(!result.stderr.includes(node.secret), `${c.name} quotes it`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, `${c.name}: a stack`);
    }
  } finally {
    await node.close();
  }
});
