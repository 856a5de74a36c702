/**
 * The external-driver SDK against a real `clustd run` process on loopback:
 * promote and demote as the node's role changes (election, SIGTERM, kill -9),
 * reconnecting by itself across restarts and converging on the node's state,
 * refusals of unknown ids and wrong tokens, a driver token that cannot open
 * a peer or control channel, and the example program run as a subprocess.
 */

import assert from "node:assert/strict";
import {
  connectDriver,
  type DriverEvent,
  type ExternalDriver,
} from "../../drivers/sdk.ts";
import { connectChannel } from "../../src/mesh/client.ts";
import { runClustd } from "../_process.ts";
import { DriverNode, randomKey, sleep, waitFor } from "./_daemon.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const EXAMPLE = `${ROOT}drivers/examples/external_driver.ts`;
const FAST = { reconnectMinMs: 20, reconnectMaxMs: 200 };

function short(event: DriverEvent): string {
  return `${event.event}/${event.term}/${event.source}`;
}

/** Waits until the last event matches; fails with the node's log otherwise. */
async function waitLast(
  node: DriverNode,
  seen: DriverEvent[],
  match: (last: DriverEvent) => boolean,
  what: string,
): Promise<DriverEvent> {
  const ok = await waitFor(() => {
    const last = seen.at(-1);
    return last !== undefined && match(last);
  }, 10_000);
  assert.ok(
    ok,
    `${what}; events: ${seen.map(short).join(" ")}\n${node.log()}`,
  );
  return seen.at(-1)!;
}

Deno.test("an external driver follows its node's role and reconnects by itself", async () => {
  const node = new DriverNode({ driverIds: ["sdk-a", "sdk-b"] });
  const seen: DriverEvent[] = [];
  let connects = 0;
  let running = 0;
  let overlap = false;
  // Started before the node: it must keep trying until the node listens.
  const driver = connectDriver({
    url: node.url,
    token: await node.keyOf("sdk-a"),
    driverId: "sdk-a",
    ...FAST,
    async onEvent(event) {
      overlap ||= running > 0;
      running++;
      seen.push(event);
      await sleep(20);
      running--;
    },
    onStatus: (status) => void (status.kind === "connected" && connects++),
  });
  let late: ExternalDriver | null = null;
  try {
    await sleep(100);
    node.start();
    const promote = await waitLast(
      node,
      seen,
      (e) => e.event === "promote",
      "no promote",
    );
    const status = await node.status();
    assert.equal(promote.role, "master");
    assert.equal(promote.nodeId, "n1");
    assert.equal(promote.masterId, "n1");
    assert.equal(promote.term, status?.term);
    assert.ok(promote.term >= 1);

    // A driver connecting now learns the current state from the welcome.
    const lateSeen: DriverEvent[] = [];
    late = connectDriver({
      url: node.url,
      token: Uint8Array.fromBase64(await node.keyOf("sdk-b")),
      driverId: "sdk-b",
      ...FAST,
      onEvent: (event) => void lateSeen.push(event),
    });
    await waitLast(node, lateSeen, (e) => e.event === "promote", "late");
    assert.equal(short(lateSeen[0]!), `promote/${promote.term}/welcome`);
    await late.close();
    late = null;

    // SIGTERM: the master demotes on its way out, then the channel drops.
    await node.stop("SIGTERM");
    await waitLast(
      node,
      seen,
      (e) => short(e) === `demote/${promote.term}/event`,
      "no demote on SIGTERM",
    );
    assert.ok(await waitFor(() => !driver.connected, 5000));

    // Restarted: the driver reconnects by itself and converges.
    node.start();
    const third = await waitLast(
      node,
      seen,
      (e) => e.event === "promote" && e.term > promote.term,
      "no promote after restart",
    );
    assert.equal(third.term, (await node.status())?.term);
    assert.ok(connects >= 2, `connected ${connects} times`);

    // kill -9 of the master, then back as a node that cannot be master:
    // the daemon has no role to restate, so the driver is told to step down.
    await node.stop("SIGKILL");
    node.configure({ driverIds: ["sdk-a"], priority: 0 });
    node.start();
    const down = await waitLast(
      node,
      seen,
      (e) => e.event === "demote",
      "no demote after a restart as backup",
    );
    assert.equal(short(down), `demote/${third.term}/welcome`);
    assert.equal(overlap, false, "two handlers ran at once");
  } finally {
    await late?.close();
    await driver.close();
    await node.close();
  }
});

Deno.test("unknown driver ids and wrong keys are refused (and retried); a driver key opens no peer or control channel", async () => {
  // Ghost peers make "n2" a configured peer id, so a peer attempt with it
  // fails on the key, not on the id.
  const node = new DriverNode({
    driverIds: ["sdk-a"],
    ghostPeers: ["n2", "n3"],
  });
  const key = Uint8Array.fromBase64(await node.keyOf("sdk-a"));
  const drivers: ExternalDriver[] = [];
  const refusals = new Map<string, string[]>();
  const start = (
    name: string,
    driverId: string,
    token: string | Uint8Array,
  ) => {
    const driver = connectDriver({
      url: node.url,
      token,
      driverId,
      ...FAST,
      onEvent: () => {},
      onStatus(status) {
        if (status.kind !== "refused") return;
        refusals.set(name, [...refusals.get(name) ?? [], status.message]);
      },
    });
    drivers.push(driver);
    return driver;
  };
  try {
    node.start();
    assert.ok(await waitFor(async () => await node.status() !== null, 10_000));

    // An unknown id fails exactly like a wrong key: no id is revealed.
    const stranger = start("stranger", "stranger", key);
    const forger = start("forger", "sdk-a", randomKey());
    const cluster = start("cluster secret", "sdk-a", node.secret);
    const token = start("driver token", "sdk-a", node.token);
    assert.ok(
      await waitFor(
        () =>
          [...refusals.values()].every((list) => list.length >= 2) &&
          refusals.size === 4,
        10_000,
      ),
      `refusals: ${JSON.stringify([...refusals])}\n${node.log()}`,
    );
    for (const [name, list] of refusals) {
      assert.match(
        list[0] ?? "",
        /node refused the driver key: it is not the key "clustd derive-key driver ID" prints/,
        name,
      );
    }
    for (const driver of [stranger, forger, cluster, token]) {
      assert.equal(driver.connected, false);
    }

    for (const kind of ["peer", "control"] as const) {
      const selfId = kind === "peer" ? "n2" : "cli";
      await assert.rejects(
        connectChannel(node.url, { kind, psk: key, selfId }),
        /handshake failed \(auth\)/,
        `the driver key opened a ${kind} channel`,
      );
      // The same attempt with the cluster secret passes the key check
      // (a peer then fails on the cluster description, which it lacks).
      const withSecret = await connectChannel(node.url, {
        kind,
        psk: node.secretBytes,
        selfId,
      }).catch((error: unknown) => error as Error);
      if (withSecret instanceof Error) {
        assert.equal(kind, "peer", withSecret.message);
        assert.match(withSecret.message, /handshake failed \(fingerprint\)/);
      } else withSecret.close();
    }
    // A driver hello sent to the peer path gets no key at all.
    await assert.rejects(
      connectChannel(`${node.url}/clustd/v1/peer`, {
        kind: "driver",
        psk: key,
        selfId: "sdk-a",
      }),
      /handshake failed.*a driver hello on the peer path/,
    );
    // The legitimate driver still connects.
    const legit = start("legit", "sdk-a", key);
    assert.ok(await waitFor(() => legit.connected, 10_000), node.log());
  } finally {
    for (const driver of drivers) await driver.close();
    await node.close();
  }
});

Deno.test("the example program writes the node's role to its state file", async () => {
  const node = new DriverNode({ driverIds: ["example"] });
  const stateFile = `${node.dir}/role.state`;
  // The operator's way to the driver's key: `clustd derive-key driver ID`.
  const derived = await runClustd([
    "derive-key",
    "driver",
    "example",
    "--config",
    node.configPath,
  ]);
  assert.equal(derived.code, 0, derived.stderr);
  assert.equal(derived.stdout.trim(), await node.keyOf("example"));
  const keyPath = `${node.dir}/example.key`;
  Deno.writeTextFileSync(keyPath, derived.stdout, { mode: 0o600 });
  const example = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=${node.dir}`,
      `--allow-write=${node.dir}`,
      "--allow-env=DEBUG",
      EXAMPLE,
      "--url",
      node.url,
      "--token-file",
      keyPath,
      "--id",
      "example",
      "--state-file",
      stateFile,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(example.stderr).text();
  const read = () => {
    try {
      return Deno.readTextFileSync(stateFile).trim();
    } catch (_error: unknown) {
      return "";
    }
  };
  try {
    node.start();
    assert.ok(
      await waitFor(() => read().startsWith("master "), 10_000),
      `state file: ${JSON.stringify(read())}\n${node.log()}`,
    );
    const term = (await node.status())?.term;
    assert.equal(read(), `master ${term} n1`);
    // SIGTERM of the node: its master demotes on the way out.
    await node.stop("SIGTERM");
    assert.ok(
      await waitFor(() => read() === `backup ${term} -`, 10_000),
      `state file: ${JSON.stringify(read())}\n${node.log()}`,
    );
  } finally {
    example.kill("SIGTERM");
    const status = await example.status;
    const log = await stderr;
    await node.close();
    assert.equal(status.code, 0, log);
    assert.match(log, /connected nodeId=n1/);
    assert.match(
      log,
      /promote role=master term=\d+ node=n1 master=n1 source=\w+ reason=elected/,
    );
    assert.match(log, /demote role=backup/);
  }
});
