/**
 * The external-driver SDK against a real daemon that refuses it, then
 * accepts it (issue 11: one refusal used to end the driver for good). The
 * driver's id is missing from the node's config at first; the operator adds
 * it and reloads (SIGHUP); the waiting driver connects by itself. Refusals
 * are retried with capped, jittered backoff; a malformed key is permanent.
 */

import assert from "node:assert/strict";
import { connectDriver, type DriverEvent } from "../../drivers/sdk.ts";
import { DriverNode, waitFor } from "../drivers/_daemon.ts";

const MIN_MS = 20;
const MAX_MS = 160;
/** Refusals to see before the fix, enough to show the delay grow and cap. */
const REFUSALS_BEFORE_FIX = 6;

Deno.test("an SDK driver refused by a real daemon keeps retrying with capped backoff and connects once the node is fixed", async () => {
  const node = new DriverNode({ driverIds: ["other"] });
  const refusals: { message: string; retryInMs: number }[] = [];
  /** Every retry delay, dial failures before the node listened included. */
  const delays: number[] = [];
  const seen: DriverEvent[] = [];
  let connected = 0;
  const driver = connectDriver({
    url: node.url,
    // The key the operator derived ahead of time for the id "late".
    token: await node.keyOf("late"),
    driverId: "late",
    reconnectMinMs: MIN_MS,
    reconnectMaxMs: MAX_MS,
    onEvent: (event) => void seen.push(event),
    onStatus(status) {
      if (status.kind === "refused") refusals.push(status);
      if (status.kind === "refused" || status.kind === "disconnected") {
        delays.push(status.retryInMs);
      }
      if (status.kind === "connected") connected++;
    },
  });
  try {
    node.start();
    assert.ok(
      await waitFor(() => refusals.length >= REFUSALS_BEFORE_FIX, 20_000),
      `refusals: ${refusals.length}\n${node.log()}`,
    );
    assert.equal(connected, 0);
    for (const refusal of refusals) {
      assert.match(refusal.message, /node refused the driver key/);
    }
    // Delays double from MIN_MS, jittered into [half, full] of the step,
    // and never exceed MAX_MS: refusals grow them like failed dials.
    for (const [i, delay] of delays.entries()) {
      const step = Math.min(MAX_MS, MIN_MS * 2 ** (i + 1));
      assert.ok(
        delay >= step / 2 && delay <= step,
        `retry ${i}: ${delay} ms, step ${step} (${delays})`,
      );
    }

    // The operator adds the driver and reloads; nothing restarts.
    node.configure({ driverIds: ["other", "late"] });
    node.signal("SIGHUP");
    assert.ok(
      await waitFor(() => driver.connected, 10_000),
      `never connected after the reload\n${node.log()}`,
    );
    assert.match(node.log(), /reload done/);
    assert.ok(
      await waitFor(() => seen.some((e) => e.event === "promote"), 10_000),
      `no promote: ${JSON.stringify(seen)}\n${node.log()}`,
    );
    assert.equal(connected, 1);
  } finally {
    await driver.close();
    await node.close();
  }
});

Deno.test("only a malformed key is permanent: connectDriver throws before dialing", () => {
  for (const token of ["", "not base64!", btoa("short")]) {
    assert.throws(
      () =>
        connectDriver({
          url: "ws://127.0.0.1:9",
          token,
          driverId: "late",
          onEvent: () => {},
        }),
      TypeError,
      JSON.stringify(token),
    );
  }
});
