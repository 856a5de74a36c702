/**
 * Hostile input at the TCP and HTTP level of a live master (issue 11):
 * idle connections and slowloris request heads beyond the caps, and the
 * descriptor limit reached (the master's RLIMIT_NOFILE lowered with
 * `prlimit` for the case). Each case ends with `Target.assertCalm`.
 */

import assert from "node:assert/strict";
import { readLog, runCommand, sleep } from "../_process.ts";
import { attackerAddresses, closeAll, RawClient } from "./_attack.ts";
import { type Target, withTarget } from "./_target.ts";

/** The listener's header-read timeout (src/http/server.ts), plus slack for a loaded machine. */
const HEADER_DEADLINE_MS = 5000 + 2000;

/** Fetches /health from 127.0.0.1; true on any HTTP answer. */
async function probeAnswers(target: Target): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${target.port}/health`, {
      signal: AbortSignal.timeout(1000),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch (_error: unknown) {
    return false;
  }
}

Deno.test("hostile: idle connections and slowloris heads are closed at the header timeout", async () => {
  await withTarget(async (target) => {
    const sources = attackerAddresses(4);
    const clients: { client: RawClient; openedMs: number }[] = [];
    let probesOk = 0;
    let probes = 0;
    const started = performance.now();
    const peak = await target.during(async () => {
      for (const from of sources) {
        for (let i = 0; i < 40; i++) {
          const client = await RawClient.connect(from, target.port);
          clients.push({ client, openedMs: performance.now() });
          // Half stay silent, half trickle a request head byte by byte.
          if (i % 2 === 1) await client.write("GET /health HTTP/1.1\r\n");
        }
      }
      const deadline = performance.now() + HEADER_DEADLINE_MS;
      while (performance.now() < deadline) {
        for (const { client } of clients) {
          if (!client.isClosed && client.received === "") {
            void client.write("X");
          }
        }
        probes += 1;
        if (await probeAnswers(target)) probesOk += 1;
        if (clients.every(({ client }) => client.isClosed)) break;
        await sleep(300);
      }
    });
    const late = clients.filter(({ client, openedMs }) =>
      !client.isClosed || client.closedAtMs! - openedMs > HEADER_DEADLINE_MS
    ).length;
    assert.equal(late, 0, `${late} connections outlived the header timeout`);
    assert.ok(
      probesOk >= probes - 1,
      `${probesOk}/${probes} probes answered`,
    );
    assert.ok(
      await target.counter(
        "clustd_http_bad_requests_total",
        'reason="timeout"',
      ) >= 4 * 16 - 8,
    );
    assert.ok(
      await target.counter(
        "clustd_listener_refused_total",
        'reason="connections_per_source"',
      ) >= 4 * (40 - 16) - 8,
    );
    await closeAll(clients.map(({ client }) =>
      client
    ));
    await target.assertCalm(peak, {
      rssMarginMb: 32,
      fdsPeakMax: target.baseline.fds + 4 * 16 + 16,
      attackMs: performance.now() - started,
    });
  });
});

async function nofile(pid: number, limit?: string): Promise<string> {
  const args = limit === undefined
    ? [
      "--pid",
      String(pid),
      "--nofile",
      "--output",
      "SOFT,HARD",
      "--noheadings",
    ]
    : ["--pid", String(pid), `--nofile=${limit}`];
  const result = await runCommand(["prlimit", ...args]);
  assert.equal(result.code, 0, `prlimit: ${result.stderr}`);
  return result.stdout.trim().split(/\s+/).join(":");
}

Deno.test("hostile: the listener survives descriptor exhaustion and accepts again", async () => {
  await withTarget(async (target) => {
    const original = await nofile(target.pid);
    // Room for 24 more descriptors: the attack below needs far more.
    const lowered = target.baseline.fds + 24;
    await nofile(target.pid, `${lowered}:${lowered}`);
    const clients: RawClient[] = [];
    const started = performance.now();
    try {
      const peak = await target.during(async () => {
        for (const from of attackerAddresses(8)) {
          for (let i = 0; i < 16; i++) {
            clients.push(await RawClient.connect(from, target.port));
          }
        }
        await sleep(2000);
        assert.match(
          readLog(target.cluster.nodes.get(target.master)!.logPath),
          /cannot accept connections, retrying/,
        );
        await closeAll(clients);
      });
      const log = () =>
        readLog(target.cluster.nodes.get(target.master)!.logPath);
      assert.ok(
        await target.cluster.waitFor(
          () => /accepting connections again/.test(log()),
          HEADER_DEADLINE_MS,
        ),
        "the listener accepts again",
      );
      const episodes = log().match(/cannot accept connections/g)?.length;
      assert.ok(episodes === 1, `${episodes} accept-failure lines`);
      assert.ok(
        await target.counter(
          "clustd_listener_accept_errors_total",
          'errno="EMFILE"',
        ) > 0,
      );
      await target.assertCalm(peak, {
        rssMarginMb: 32,
        // The limit caps new descriptor numbers; a few opened above it
        // before it was lowered may still be open.
        fdsPeakMax: lowered + 4,
        attackMs: performance.now() - started,
      });
    } finally {
      await closeAll(clients);
      await nofile(target.pid, original).catch(() => "");
    }
  });
});
