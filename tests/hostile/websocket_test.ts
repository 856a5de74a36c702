/**
 * Hostile input on the WebSocket paths of a live master, from attackers on
 * other loopback addresses that do not know the secret (issue 11): huge
 * messages, endless fragments, stalled handshakes beyond the caps, and a
 * flood of hellos. Each case ends with `Target.assertCalm`.
 */

import assert from "node:assert/strict";
import { sleep } from "../_process.ts";
import {
  attackerAddresses,
  clientFrame,
  closeAll,
  forgedHello,
  RawClient,
} from "./_attack.ts";
import { withTarget } from "./_target.ts";

const PEER_PATH = "/clustd/v1/peer";
/** Size each oversize attempt claims and tries to send (as in issue 11). */
const OVERSIZE_BYTES = 50 * 1024 * 1024;
const OVERSIZE_ATTEMPTS = 16;
/** Fragments each fragment attack tries to send. */
const FRAGMENT_ATTEMPTS = 100_000;

Deno.test("hostile: 16 messages of 50 MB before authentication are refused from the header", async () => {
  await withTarget(async (target) => {
    const [from] = attackerAddresses(1);
    const started = performance.now();
    let sentMb = 0;
    const peak = await target.during(async () => {
      await Promise.all(
        Array.from({ length: OVERSIZE_ATTEMPTS }, async () => {
          const client = await RawClient.connect(from!, target.port);
          assert.ok(await client.upgrade(PEER_PATH), client.received);
          await client.write(clientFrame(0x2, true, OVERSIZE_BYTES));
          const chunk = new Uint8Array(1024 * 1024);
          for (let sent = 0; sent < OVERSIZE_BYTES; sent += chunk.length) {
            if (!await client.write(chunk)) break;
            sentMb += 1;
          }
          await Promise.race([client.closed, sleep(3000)]);
          assert.ok(client.isClosed, "the daemon closed the connection");
          client.destroy();
        }),
      );
    });
    const attackMs = performance.now() - started;
    assert.ok(
      sentMb < OVERSIZE_ATTEMPTS * 50 / 4,
      `${sentMb} MB got through before the close`,
    );
    assert.ok(
      await target.counter(
        "clustd_handshake_failures_total",
        'reason="too_large"',
      ) >= OVERSIZE_ATTEMPTS,
    );
    await target.assertCalm(peak, {
      rssMarginMb: 32,
      fdsPeakMax: target.baseline.fds + OVERSIZE_ATTEMPTS + 8,
      attackMs,
    });
  });
});

Deno.test("hostile: messages of endless empty fragments are refused at the fragment cap", async () => {
  await withTarget(async (target) => {
    const sources = attackerAddresses(2);
    const started = performance.now();
    const peak = await target.during(async () => {
      await Promise.all(
        sources.flatMap((from) =>
          Array.from({ length: 8 }, async () => {
            const client = await RawClient.connect(from, target.port);
            assert.ok(await client.upgrade(PEER_PATH), client.received);
            await client.write(clientFrame(0x1, false, 0));
            const batch = new Uint8Array(6 * 1000);
            for (let i = 0; i < batch.length; i += 6) {
              batch.set(clientFrame(0x0, false, 0), i);
            }
            for (let n = 0; n < FRAGMENT_ATTEMPTS; n += 1000) {
              if (!await client.write(batch)) break;
            }
            await Promise.race([client.closed, sleep(3000)]);
            assert.ok(client.isClosed, "the daemon closed the connection");
          })
        ),
      );
    });
    assert.ok(
      await target.counter(
        "clustd_handshake_failures_total",
        'reason="too_large"',
      ) >= 16,
    );
    await target.assertCalm(peak, {
      rssMarginMb: 32,
      fdsPeakMax: target.baseline.fds + 16 + 8,
      attackMs: performance.now() - started,
    });
  });
});

Deno.test("hostile: stalled handshakes beyond the caps are closed at the TCP level at 5 s", async () => {
  await withTarget(async (target) => {
    const sources = attackerAddresses(6);
    const clients: RawClient[] = [];
    const started = performance.now();
    const peak = await target.during(async () => {
      // Two waves of 32 per source, each sending half of a 60 KB message
      // and then nothing: more than the caps in total and per source.
      for (let wave = 0; wave < 2; wave++) {
        await Promise.all(
          sources.flatMap((from) =>
            Array.from({ length: 32 }, async () => {
              const client = await RawClient.connect(from, target.port);
              clients.push(client);
              if (!await client.upgrade(PEER_PATH, 1000)) return;
              await client.write(clientFrame(0x2, true, 60_000));
              await client.write(new Uint8Array(30_000));
            })
          ),
        );
        await sleep(1000);
      }
      const held = await target.counter("clustd_unauthenticated_connections");
      assert.ok(held > 0 && held <= 64, `${held} admission slots held`);
      // Every admitted one is closed by the daemon within its deadline.
      await Promise.race([
        Promise.all(clients.map((c) => c.closed)),
        sleep(5000 + 3000),
      ]);
    });
    const open = clients.filter((c) => !c.isClosed).length;
    assert.equal(open, 0, `${open} attacker connections still open`);
    // Slots come back once the connections are gone.
    assert.ok(
      await target.cluster.waitFor(
        async () =>
          await target.counter("clustd_unauthenticated_connections") === 0,
        2000,
      ),
      "admission slots given back",
    );
    await closeAll(clients);
    const refused = await target.counter(
      "clustd_admissions_refused_total",
      'reason="handshakes_per_source"',
    ) + await target.counter(
      "clustd_admissions_refused_total",
      'reason="handshakes_total"',
    ) + await target.counter(
      "clustd_listener_refused_total",
      'reason="connections_per_source"',
    );
    assert.ok(refused > 0, "the caps refused some");
    await target.assertCalm(peak, {
      rssMarginMb: 32,
      fdsPeakMax: target.baseline.fds + 128 + 64 + 16,
      attackMs: performance.now() - started,
    });
  });
});

Deno.test("hostile: a hello flood is rate-limited and logged in bounded lines", async () => {
  await withTarget(async (target) => {
    const sources = attackerAddresses(2);
    const floodMs = 3000;
    let hellos = 0;
    const started = performance.now();
    const cpuBefore = target.sample().cpuMs;
    const peak = await target.during(async () => {
      const deadline = performance.now() + floodMs;
      await Promise.all(
        sources.flatMap((from) =>
          Array.from({ length: 4 }, async () => {
            while (performance.now() < deadline) {
              const client = await RawClient.connect(from, target.port);
              if (await client.upgrade(PEER_PATH, 1000)) {
                await client.write(forgedHello("b"));
                hellos += 1;
                await Promise.race([
                  client.closed,
                  sleep(50).then(() => client.received.includes("welcome")),
                ]);
              }
              client.destroy();
              await client.closed;
            }
          })
        ),
      );
    });
    const attackMs = performance.now() - started;
    const cpuMs = peak.cpuMs - cpuBefore;
    const limited = await target.counter(
      "clustd_admissions_refused_total",
      'reason="rate_per_source"',
    );
    assert.ok(limited > 0, `no rate limit hit after ${hellos} hellos`);
    console.log(
      `hello flood: ${hellos} hellos admitted in ${
        Math.round(attackMs)
      } ms, ${limited} upgrades refused by rate, master CPU ${cpuMs} ms`,
    );
    // Per-source rate 20/s (burst 40) from 2 sources for ~3 s bounds the
    // hellos that cost crypto (~1 ms each); the rest cost an HTTP request
    // each (~1 ms), at most 250 a second by the accept pace: about half a
    // core at most, never all of it.
    assert.ok(
      cpuMs < attackMs * 0.75,
      `master CPU ${cpuMs} ms in ${Math.round(attackMs)} ms`,
    );
    await target.assertCalm(peak, {
      rssMarginMb: 32,
      fdsPeakMax: target.baseline.fds + 64,
      attackMs,
    });
  });
});
