/** Handshake rules (DESIGN §2): the pure state machine, without sockets. */

import assert from "node:assert/strict";
import {
  AUTH_FAILED_MESSAGE,
  type ChannelKind,
  ClientHandshake,
  type HandshakeStep,
  ServerHandshake,
} from "../../src/mesh/handshake.ts";
import {
  describeCluster,
  DRIVER_TOKEN,
  OTHER_SECRET,
  SECRET,
} from "./_helpers.ts";

interface Run {
  client: HandshakeStep[];
  server: HandshakeStep[];
}

function server(options: {
  description?: unknown;
  driverToken?: Uint8Array;
  version?: number;
} = {}): ServerHandshake {
  return new ServerHandshake({
    selfId: "n1",
    description: options.description ?? describeCluster(["n1", "n2"]),
    pskFor: (kind) => kind === "driver" ? options.driverToken : SECRET,
    checkClient: (kind, id) =>
      kind === "peer" && id !== "n2" ? `unknown peer id "${id}"` : undefined,
    ...(options.version === undefined ? {} : { version: options.version }),
  });
}

function client(options: {
  psk?: Uint8Array;
  kind?: ChannelKind;
  id?: string;
  description?: unknown;
  version?: number;
  expectedPeerId?: string;
} = {}): ClientHandshake {
  return new ClientHandshake({
    kind: options.kind ?? "peer",
    psk: options.psk ?? SECRET,
    selfId: options.id ?? "n2",
    description: options.description ?? describeCluster(["n1", "n2"]),
    ...(options.version === undefined ? {} : { version: options.version }),
    ...(options.expectedPeerId === undefined
      ? {}
      : { expectedPeerId: options.expectedPeerId }),
  });
}

/** Relays messages between the two machines until both stop. */
async function run(c: ClientHandshake, s: ServerHandshake): Promise<Run> {
  const out: Run = { client: [], server: [] };
  let step = await c.start();
  out.client.push(step);
  for (let round = 0; round < 4; round++) {
    if (step.send === undefined) break;
    const toServer = JSON.stringify(step.send);
    const reply = await s.receive(toServer);
    out.server.push(reply);
    if (reply.send === undefined) break;
    step = await c.receive(JSON.stringify(reply.send));
    out.client.push(step);
    if (step.result !== undefined && step.send !== undefined) {
      out.server.push(await s.receive(JSON.stringify(step.send)));
      break;
    }
  }
  return out;
}

function resultOf(
  steps: HandshakeStep[],
): NonNullable<HandshakeStep["result"]> | undefined {
  return steps.find((step) => step.result !== undefined)?.result;
}

function failureOf(
  steps: HandshakeStep[],
): { failure: string; message: string } {
  const result = resultOf(steps);
  assert.ok(
    result !== undefined && !result.ok,
    `expected a failure, got ${JSON.stringify(result)}`,
  );
  return result;
}

Deno.test("a handshake with the same secret yields mirrored direction keys", async () => {
  const { client: c, server: s } = await run(client(), server());
  const a = resultOf(c);
  const b = resultOf(s);
  assert.ok(a?.ok && b?.ok);
  assert.equal(a.peerId, "n1");
  assert.equal(b.peerId, "n2");
  assert.deepEqual(a.keys.sendChainKey, b.keys.receiveChainKey);
  assert.deepEqual(a.keys.receiveChainKey, b.keys.sendChainKey);
  assert.notDeepEqual(a.keys.sendChainKey, a.keys.receiveChainKey);
  assert.equal(a.keys.sessionId, b.keys.sessionId);
});

Deno.test("two handshakes never share keys (fresh ephemerals and randoms)", async () => {
  const first = resultOf((await run(client(), server())).client);
  const second = resultOf((await run(client(), server())).client);
  assert.ok(first?.ok && second?.ok);
  assert.notDeepEqual(first.keys.sendChainKey, second.keys.sendChainKey);
});

Deno.test("the secret never appears in any handshake message", async () => {
  const { client: c, server: s } = await run(client(), server());
  const wire = [...c, ...s].map((step) => JSON.stringify(step.send ?? {}))
    .join();
  const secretB64 = SECRET.toBase64();
  assert.ok(!wire.includes(secretB64));
  assert.ok(!wire.includes(JSON.stringify([...SECRET])));
});

Deno.test("a wrong secret is refused as an authentication failure on both sides", async () => {
  const { client: c, server: s } = await run(
    client({ psk: OTHER_SECRET }),
    server(),
  );
  const onClient = failureOf(c);
  assert.equal(onClient.failure, "auth");
  assert.equal(onClient.message, AUTH_FAILED_MESSAGE);
  const seen = failureOf(s);
  assert.equal(seen.failure, "auth");
  assert.match(seen.message, /does not know this cluster's secret/);
});

Deno.test("a different cluster description is refused naming ids, roles and timing", async () => {
  const theirs = describeCluster(["n1", "n2", "n3"], {
    heartbeatMs: 100,
    roles: { n2: "witness" },
  });
  const { client: c, server: s } = await run(
    client({ description: theirs }),
    server(),
  );
  const onClient = failureOf(c);
  assert.equal(onClient.failure, "fingerprint");
  assert.match(onClient.message, /members ids differ \(only here: n3\)/);
  assert.match(
    onClient.message,
    /members\[n2\]\.role: here "witness", peer "voter"/,
  );
  assert.match(onClient.message, /heartbeatMs: here 100, peer 50/);
  const onServer = failureOf(s);
  assert.equal(onServer.failure, "fingerprint");
  assert.match(onServer.message, /only on peer: n3/);
  assert.match(onServer.message, /heartbeatMs: here 50, peer 100/);
});

Deno.test("a wrong-secret client never sees the server's cluster description", async () => {
  const theirs = describeCluster(["n1", "n2", "n3"]);
  const { server: s } = await run(
    client({ psk: OTHER_SECRET, description: theirs }),
    server(),
  );
  assert.ok(
    s.every((step) => !JSON.stringify(step.send ?? {}).includes("members")),
  );
});

Deno.test("a different protocol version is refused with both versions named", async () => {
  const { client: c, server: s } = await run(client({ version: 2 }), server());
  const onServer = failureOf(s);
  assert.equal(onServer.failure, "version");
  assert.match(onServer.message, /peer speaks 2, this node speaks 1/);
  const onClient = failureOf(c);
  assert.equal(onClient.failure, "version");
  assert.match(onClient.message, /peer speaks 1, this node speaks 2/);
});

Deno.test("garbage as the first message is refused as malformed", async () => {
  for (
    const garbage of [
      "hello?",
      "[]",
      "null",
      '{"type":"finish"}',
      '{"type":"hello"}',
    ]
  ) {
    const step = await server().receive(garbage);
    const result = step.result;
    assert.ok(result !== undefined && !result.ok);
    assert.equal(result.failure, "malformed", garbage);
    assert.equal((step.send as { type?: string } | undefined)?.type, "refuse");
  }
});

Deno.test("an id not in the peer list cannot open a peer channel", async () => {
  const { server: s } = await run(client({ id: "intruder" }), server());
  const seen = failureOf(s);
  assert.equal(seen.failure, "identity");
  assert.match(seen.message, /unknown peer id "intruder"/);
});

Deno.test("without the secret, a known and an unknown id get the same answers", async () => {
  // Which ids exist is told only to a client that proved the key.
  const answers = [];
  for (const id of ["n2", "intruder", "n1"]) {
    const { server: s } = await run(
      client({ id, psk: OTHER_SECRET }),
      server(),
    );
    const welcome = s[0]?.send as Record<string, unknown> | undefined;
    assert.equal(welcome?.type, "welcome", id);
    const seen = failureOf(s);
    answers.push([seen.failure, seen.message, s.at(-1)?.send]);
  }
  assert.deepEqual(answers[1], answers[0]);
  assert.deepEqual(answers[2], answers[0]);
  assert.equal(answers[0]![0], "auth");
});

Deno.test("a server presenting an unexpected id is refused by the client", async () => {
  const { client: c } = await run(client({ expectedPeerId: "n9" }), server());
  const seen = failureOf(c);
  assert.equal(seen.failure, "identity");
  assert.match(seen.message, /says it is "n1", but this node expects "n9"/);
});

Deno.test("a driver token cannot open a peer or control channel", async () => {
  for (const kind of ["peer", "control"] as const) {
    const { client: c, server: s } = await run(
      client({ kind, psk: DRIVER_TOKEN }),
      server({ driverToken: DRIVER_TOKEN }),
    );
    assert.equal(failureOf(c).failure, "auth", kind);
    assert.equal(failureOf(s).failure, "auth", kind);
  }
  const { client: c } = await run(
    client({ kind: "driver", psk: DRIVER_TOKEN, id: "drv-1" }),
    server({ driverToken: DRIVER_TOKEN }),
  );
  assert.ok(resultOf(c)?.ok);
});

Deno.test("the cluster secret cannot open a driver channel", async () => {
  const { client: c } = await run(
    client({ kind: "driver", psk: SECRET, id: "drv-1" }),
    server({ driverToken: DRIVER_TOKEN }),
  );
  assert.equal(failureOf(c).failure, "auth");
});

Deno.test("driver channels are refused when no driver token is configured", async () => {
  const { server: s } = await run(
    client({ kind: "driver", id: "drv-1" }),
    server(),
  );
  const seen = failureOf(s);
  assert.equal(seen.failure, "kind");
  assert.match(seen.message, /no driver token is configured/);
});

Deno.test("control channels do not compare cluster descriptions", async () => {
  const { client: c, server: s } = await run(
    client({ kind: "control", id: "cli", description: null }),
    server(),
  );
  assert.ok(resultOf(c)?.ok && resultOf(s)?.ok);
});

Deno.test("a tampered welcome fails key confirmation", async () => {
  const c = client();
  const s = server();
  const hello = await c.start();
  const welcome = await s.receive(JSON.stringify(hello.send));
  const forged = {
    ...welcome.send,
    random: new Uint8Array(32).toBase64(),
  };
  const step = await c.receive(JSON.stringify(forged));
  assert.equal(step.result?.ok, false);
  assert.equal(!step.result?.ok && step.result?.failure, "auth");
});
