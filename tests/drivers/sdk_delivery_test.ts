/**
 * Delivery rules of the external-driver SDK against a scripted daemon (a real
 * Mesh on a loopback socket whose driver channels the test drives): one
 * event at a time, stale events collapsed, acks, convergence on welcome,
 * retries, refusals, backoff, and token handling.
 */

import assert from "node:assert/strict";
import {
  connectDriver,
  decodeToken,
  type DriverEvent,
  type DriverStatus,
  parseServerMessage,
  readTokenFile,
} from "../../drivers/sdk.ts";
import type { SecureChannel } from "../../src/mesh/client.ts";
import { ScriptedDaemon, sleep, waitFor, wireEvent } from "./_daemon.ts";

const FAST = { reconnectMinMs: 10, reconnectMaxMs: 40 };

function welcome(state: Record<string, unknown> | null) {
  return (channel: SecureChannel) =>
    channel.send({ type: "welcome", node_id: "n1", state });
}

function short(event: DriverEvent): string {
  return `${event.event}/${event.term}/${event.source}`;
}

Deno.test("events run one at a time and stale pending events collapse to the latest", async () => {
  const daemon = new ScriptedDaemon(welcome(null));
  const seen: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const gates = new Map<string, { wait: Promise<void>; open(): void }>();
  for (const key of ["promote/1/event", "promote/3/event"]) {
    let open!: () => void;
    const wait = new Promise<void>((resolve) => open = resolve);
    gates.set(key, { wait, open });
  }
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    ...FAST,
    async onEvent(event) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      seen.push(short(event));
      await gates.get(short(event))?.wait;
      running--;
    },
  });
  try {
    assert.ok(await waitFor(() => driver.connected, 5000), "never connected");
    const channel = daemon.channels[0]!;
    channel.send(wireEvent("promote", 1));
    assert.ok(await waitFor(() => seen.length === 1, 2000));
    // While promote/1 runs: flips in the same term, then a newer promote.
    for (
      const [event, term] of [
        ["demote", 1],
        ["promote", 1],
        ["demote", 1],
        ["promote", 2],
      ] as const
    ) channel.send(wireEvent(event, term));
    await sleep(100);
    assert.deepEqual(seen, ["promote/1/event"], "ran while another ran");
    gates.get("promote/1/event")!.open();
    assert.ok(await waitFor(() => daemon.acks().length === 2, 2000));
    assert.deepEqual(seen, ["promote/1/event", "promote/2/event"]);
    assert.deepEqual(daemon.acks(), ["promote/1/true", "promote/2/true"]);
    assert.equal(maxRunning, 1);
    // Flips while idle run in order and end in the latest state.
    channel.send(wireEvent("demote", 2));
    channel.send(wireEvent("promote", 2));
    assert.ok(await waitFor(() => daemon.acks().length === 4, 2000));
    assert.deepEqual(seen.slice(2), ["demote/2/event", "promote/2/event"]);
    assert.equal(driver.state?.event, "promote");
    // Demote and promote again in the same term while promote/3 runs: the
    // driver already is where the daemon ended, so nothing more runs.
    channel.send(wireEvent("promote", 3));
    assert.ok(await waitFor(() => seen.length === 5, 2000));
    channel.send(wireEvent("demote", 3));
    channel.send(wireEvent("promote", 3));
    await sleep(50);
    gates.get("promote/3/event")!.open();
    assert.ok(await waitFor(() => daemon.acks().length === 5, 2000));
    await sleep(100);
    assert.deepEqual(seen.slice(4), ["promote/3/event"]);
    assert.equal(daemon.acks().length, 5);
  } finally {
    for (const gate of gates.values()) gate.open();
    await driver.close();
    await daemon.close();
  }
});

Deno.test("a reconnecting driver converges on the welcome state without repeating it", async () => {
  const states = [wireEvent("promote", 3), wireEvent("promote", 3), null];
  const daemon = new ScriptedDaemon(() => {});
  daemon.onHello = (channel) => {
    const state = states[daemon.channels.length - 1] ?? null;
    channel.send({ type: "welcome", node_id: "n1", state });
  };
  const seen: DriverEvent[] = [];
  const statuses: DriverStatus["kind"][] = [];
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    ...FAST,
    onEvent: (event) => void seen.push(event),
    onStatus: (status) => void statuses.push(status.kind),
  });
  try {
    assert.ok(await waitFor(() => seen.length === 1, 5000));
    assert.equal(short(seen[0]!), "promote/3/welcome");
    // Cut the connection: same state restated, so nothing runs again.
    daemon.channels[0]!.close("cut");
    assert.ok(await waitFor(() => daemon.channels.length === 2, 5000));
    assert.ok(await waitFor(() => driver.connected, 5000));
    await sleep(100);
    assert.equal(seen.length, 1);
    // The daemon restarted and has not been master since: step down.
    daemon.channels[1]!.close("cut");
    assert.ok(await waitFor(() => seen.length === 2, 5000));
    const demote = seen[1]!;
    assert.equal(short(demote), "demote/3/welcome");
    assert.equal(demote.role, "backup");
    assert.equal(demote.masterId, null);
    assert.deepEqual(
      statuses.filter((s) => s !== "disconnected"),
      ["connected", "connected", "connected"],
    );
    assert.deepEqual(daemon.acks(), ["promote/3/true", "demote/3/true"]);
  } finally {
    await driver.close();
    await daemon.close();
  }
});

Deno.test("a failing handler is acked not ok and retried when the daemon restates it", async () => {
  const daemon = new ScriptedDaemon(welcome(wireEvent("promote", 5)));
  let calls = 0;
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    ...FAST,
    onEvent() {
      calls++;
      if (calls === 1) throw new Error("service would not start");
    },
  });
  try {
    assert.ok(await waitFor(() => daemon.acks().length === 1, 5000));
    assert.deepEqual(daemon.acks(), ["promote/5/false"]);
    await sleep(100);
    assert.equal(calls, 1, "a failure must not spin");
    daemon.channels[0]!.close("cut");
    assert.ok(await waitFor(() => daemon.acks().length === 2, 5000));
    assert.deepEqual(daemon.acks(), ["promote/5/false", "promote/5/true"]);
    assert.equal(driver.state?.event, "promote");
  } finally {
    await driver.close();
    await daemon.close();
  }
});

Deno.test("a malformed message from the daemon costs one connection, not the driver", async () => {
  const daemon = new ScriptedDaemon(welcome(null));
  const seen: string[] = [];
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    ...FAST,
    onEvent: (event) => void seen.push(short(event)),
  });
  try {
    assert.ok(await waitFor(() => driver.connected, 5000));
    daemon.channels[0]!.send({ ...wireEvent("promote", 1), term: -1 });
    const reason = await daemon.channels[0]!.closed;
    assert.match(reason, /term must be a non-negative integer/);
    assert.ok(await waitFor(() => daemon.channels.length === 2, 5000));
    assert.ok(await waitFor(() => driver.connected, 5000));
    daemon.channels[1]!.send(wireEvent("promote", 1));
    assert.ok(await waitFor(() => seen.length === 1, 2000));
    assert.deepEqual(seen, ["promote/1/event"]);
  } finally {
    await driver.close();
    await daemon.close();
  }
});

Deno.test("a hello refusal is reported and retried with backoff until the daemon welcomes", async () => {
  let hellos = 0;
  const daemon = new ScriptedDaemon((channel) => {
    hellos++;
    if (hellos <= 3) channel.send({ type: "refused", message: "go away" });
    else channel.send({ type: "welcome", node_id: "n1", state: null });
  });
  const refused: { message: string; retryInMs: number }[] = [];
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    reconnectMinMs: 10,
    reconnectMaxMs: 40,
    onEvent: () => {},
    onStatus(status) {
      if (status.kind === "refused") refused.push(status);
    },
  });
  try {
    assert.ok(await waitFor(() => driver.connected, 5000));
    assert.equal(hellos, 4);
    assert.equal(refused.length, 3);
    for (const [i, status] of refused.entries()) {
      assert.match(status.message, /node refused driver "d1": go away/);
      // Jittered in [half, full] of min·2^(attempt), capped at max.
      const step = Math.min(40, 10 * 2 ** (i + 1));
      assert.ok(
        status.retryInMs >= step / 2 && status.retryInMs <= step,
        `retry ${i}: ${status.retryInMs} ms`,
      );
    }
  } finally {
    await driver.close();
    await daemon.close();
  }
});

Deno.test("reconnect delays grow exponentially, are capped and jittered", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const delays: number[] = [];
  const controller = new AbortController();
  const driver = connectDriver({
    url: `ws://127.0.0.1:${port}`,
    token: btoa("k".repeat(32)),
    driverId: "d1",
    reconnectMinMs: 10,
    reconnectMaxMs: 80,
    signal: controller.signal,
    onEvent: () => {},
    onStatus(status) {
      if (status.kind === "disconnected") delays.push(status.retryInMs);
      if (delays.length === 8) controller.abort();
    },
  });
  await driver.done;
  // Steps: 20, 40, 80, 80, ...; each delay lies in [step/2, step].
  const steps = [20, 40, 80, 80, 80, 80, 80, 80];
  delays.forEach((delay, i) => {
    assert.ok(
      delay >= steps[i]! / 2 && delay <= steps[i]!,
      `delay ${i} = ${delay}`,
    );
  });
  assert.ok(new Set(delays.slice(2)).size > 1, "no jitter");
});

Deno.test("tokens are decoded strictly and never quoted in errors", async () => {
  const secret = btoa("s".repeat(31));
  assert.throws(() => decodeToken(secret), /has 31 bytes, fewer than the 32/);
  assert.throws(() => decodeToken("not base64!"), /not valid base64/);
  assert.throws(() => decodeToken("  "), /is empty/);
  assert.equal(decodeToken(` ${btoa("t".repeat(32))}\n`).length, 32);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/short`, secret);
    await assert.rejects(readTokenFile(`${dir}/short`), (error: Error) => {
      assert.match(error.message, /driver token file ".*short" has 31 bytes/);
      assert.ok(!error.message.includes(secret));
      return true;
    });
    await assert.rejects(
      readTokenFile(`${dir}/missing`),
      /Cannot read the driver token file ".*missing"/,
    );
    await Deno.writeTextFile(`${dir}/big`, "A".repeat(5000));
    await assert.rejects(readTokenFile(`${dir}/big`), /too large for a token/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(
    () =>
      connectDriver({
        url: "ws://127.0.0.1:1",
        token: btoa("t".repeat(32)),
        driverId: "Bad Id",
        onEvent: () => {},
      }),
    /Driver id "Bad Id" is not valid/,
  );
});

Deno.test("parseServerMessage names what is wrong", () => {
  assert.match(
    String(parseServerMessage({ type: "welcome", node_id: 3 })),
    /welcome.node_id must be a string/,
  );
  assert.match(
    String(parseServerMessage({ ...wireEvent("promote", 1), role: "king" })),
    /unknown role "king"/,
  );
  assert.match(
    String(parseServerMessage({ ...wireEvent("promote", 1), reason: 7 })),
    /reason must be a string of 1\.\.64 characters/,
  );
  assert.match(String(parseServerMessage([])), /unknown message type/);
  assert.deepEqual(parseServerMessage(wireEvent("demote", 2)), {
    type: "event",
    event: {
      event: "demote",
      role: "backup",
      term: 2,
      reason: "quorum_lost",
      nodeId: "n1",
      masterId: null,
      source: "event",
    },
  });
});

Deno.test("close() before the welcome ends the driver at once", async () => {
  const daemon = new ScriptedDaemon(() => {});
  const driver = connectDriver({
    url: daemon.url,
    token: daemon.token,
    driverId: "d1",
    onEvent: () => {},
  });
  try {
    assert.ok(await waitFor(() => daemon.received.length === 1, 5000));
    assert.deepEqual(daemon.received[0], { type: "hello", driver_id: "d1" });
    const startedMs = performance.now();
    await driver.close();
    assert.ok(performance.now() - startedMs < 1000, "close waited");
    assert.match(await daemon.channels[0]!.closed, /driver closing/);
  } finally {
    await driver.close();
    await daemon.close();
  }
});
