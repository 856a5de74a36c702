/**
 * A planned handover waits for the old master's external drivers as it does
 * for its bash drivers: the target promotes only after the external driver
 * acked its demote (DESIGN §1 Handover: "runs its demote drivers, then tells
 * the target to campaign"). Real `clustd run` processes, the real SDK.
 */

import { deriveDriverKey } from "../../src/config/derived_keys.ts";
import assert from "node:assert/strict";
import { connectDriver, type ExternalDriver } from "../../drivers/sdk.ts";
import { TestCluster } from "./_cluster.ts";

/**
 * How long the external driver takes to demote: far above a handover's ~25
 * ms, and below E (the master stops renewing its lease when it starts to hand
 * over, so a demote slower than E lets the others elect by timeout).
 */
const SLOW_DEMOTE_MS = 600;
const E = 2000;

interface Done {
  node: string;
  event: string;
  term: number;
  endMs: number;
}

Deno.test("SIGTERM handover waits for the external driver's demote ack", async () => {
  const tokenDir = Deno.makeTempDirSync({ prefix: "clustd-ext-" });
  const tokenBytes = crypto.getRandomValues(new Uint8Array(32));
  Deno.writeTextFileSync(`${tokenDir}/token`, tokenBytes.toBase64() + "\n", {
    mode: 0o600,
  });
  // Every node derives the same key for the id "ext" from the one token.
  const token = await deriveDriverKey(tokenBytes, "ext");
  const cluster = TestCluster.create({
    heartbeatMs: 100,
    electionTimeoutMs: E,
    extraCluster: `  driver_token_file: ${tokenDir}/token`,
    nodes: ["n1", "n2", "n3"].map((id, i) => ({
      id,
      priority: 100 - 10 * i,
      extraDrivers: "  - type: external\n    id: ext\n",
    })),
  });
  const done: Done[] = [];
  const drivers: ExternalDriver[] = [];
  try {
    cluster.startAll();
    for (const [id, node] of cluster.nodes) {
      drivers.push(connectDriver({
        url: `ws://127.0.0.1:${node.port}`,
        token,
        driverId: "ext",
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
        async onEvent(event) {
          if (event.event === "demote") {
            await new Promise((resolve) => setTimeout(resolve, SLOW_DEMOTE_MS));
          }
          done.push({
            node: id,
            event: event.event,
            term: event.term,
            endMs: Date.now(),
          });
        },
      }));
    }
    const promotes = await cluster.waitForPromotes(1, 15_000);
    assert.equal(promotes.length, 1);
    const old = promotes[0]!;
    const ready = await cluster.waitFor(
      () =>
        done.some((d) =>
          d.node === old.node && d.event === "promote" && d.term === old.term
        ),
      5000,
    );
    assert.ok(ready, "the master's external driver promoted");
    await cluster.signal(old.node, "SIGTERM");
    const after = await cluster.waitForPromotes(2, 10_000);
    assert.equal(after.length, 2, "a new master after the handover");
    const next = after[1]!;
    const isDemote = (d: Done) =>
      d.node === old.node && d.event === "demote" && d.term >= old.term;
    await cluster.waitFor(() => done.some(isDemote), 3 * SLOW_DEMOTE_MS);
    const demoted = done.find(isDemote);
    assert.ok(demoted !== undefined, "the old master's driver demoted");
    assert.ok(
      next.atMs >= demoted.endMs,
      `new master promoted ${demoted.endMs - next.atMs} ms before the ` +
        `old master's external driver finished demoting\n${
          cluster.logOf(old.node)
        }`,
    );
  } finally {
    for (const driver of drivers) driver.close();
    await Promise.allSettled(drivers.map((d) => d.done));
    await cluster.close();
    Deno.removeSync(tokenDir, { recursive: true });
  }
});
