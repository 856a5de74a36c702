/**
 * A hostile server answering the dialing side (issue 11): whatever listens
 * at a peer's URL accepts the upgrade and then sends endless empty
 * fragments. The master keeps dialing it (node c's URL) and the CLI is
 * pointed at it; both must drop it at the fragment cap with bounded memory.
 * Ends with `Target.assertCalm` once c itself takes its port back.
 */

import assert from "node:assert/strict";
import { acceptKey, headEnd } from "../../src/websocket/codec.ts";
import { clustdArgv, ROOT, sleep } from "../_process.ts";
import { withTarget } from "./_target.ts";

/** Longest the hostile server keeps one connection going. */
const HOSTILE_CONNECTION_MS_MAX = 5000;
/** Bytes one hostile connection may send at most (empty fragments). */
const HOSTILE_BYTES_MAX = 64 * 1024 * 1024;
/** Peak RSS the CLI may reach against it (it reached 1 GB before issue 11). */
const CLI_RSS_MB_MAX = 160;

/** A server on 127.0.0.1:`port` that answers every upgrade with endless fragments. */
function hostileServer(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  let connections = 0;
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      connections += 1;
      served.push(flood(conn));
    }
  })();
  return {
    get connections() {
      return connections;
    },
    async close() {
      try {
        listener.close();
      } catch (_error: unknown) {
        // Closed by an earlier call.
      }
      await loop.catch(() => {});
      await Promise.all(served);
    },
  };
}

async function flood(conn: Deno.Conn): Promise<void> {
  try {
    const buffer = new Uint8Array(4096);
    let head = new Uint8Array(0);
    while (headEnd(head) < 0 && head.length < 8192) {
      const count = await conn.read(buffer);
      if (count === null) return;
      const next = new Uint8Array(head.length + count);
      next.set(head);
      next.set(buffer.subarray(0, count), head.length);
      head = next;
    }
    const text = new TextDecoder().decode(head);
    const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? "";
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(
          key,
        )}\r\n\r\n`,
    ));
    // A text frame without FIN, then empty continuation frames forever.
    const chunk = new Uint8Array(64 * 1024);
    chunk[0] = 0x01;
    const deadline = performance.now() + HOSTILE_CONNECTION_MS_MAX;
    for (
      let sent = 0;
      sent < HOSTILE_BYTES_MAX && performance.now() < deadline;
      sent += chunk.length
    ) {
      await conn.write(chunk);
      chunk[0] = 0x00;
    }
  } catch (_error: unknown) {
    // The client hung up: the point of the test.
  } finally {
    try {
      conn.close();
    } catch (_error: unknown) {
      // Already closed.
    }
  }
}

/** Peak RSS of `pid` sampled every 10 ms until it exits. */
async function peakRssMb(pid: number, exited: Promise<unknown>) {
  let peak = 0;
  let done = false;
  void exited.then(() => done = true);
  while (!done) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb / 1024);
    } catch (_error: unknown) {
      break; // Exited between two samples.
    }
    await sleep(10);
  }
  return peak;
}

Deno.test("hostile: a server answering with endless fragments is dropped by the master and the CLI", async () => {
  await withTarget(async (target) => {
    const server = hostileServer(target.absentPort);
    const started = performance.now();
    let cli = { code: -1, stderr: "", rssMb: 0 };
    try {
      const peak = await target.during(async () => {
        const node = target.cluster.nodes.get(target.master)!;
        const argv = clustdArgv([
          "status",
          "--config",
          node.configPath,
          "--node",
          `ws://127.0.0.1:${target.absentPort}`,
        ]);
        const child = new Deno.Command(argv[0]!, {
          args: argv.slice(1),
          cwd: ROOT,
          env: { NO_COLOR: "1" },
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const output = child.output();
        const rssMb = await peakRssMb(child.pid, output);
        const result = await output;
        cli = {
          code: result.code,
          stderr: new TextDecoder().decode(result.stderr),
          rssMb,
        };
        // Let the master's reconnect backoff dial the hostile server a few times.
        await sleep(3000);
      });
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stderr, /fragments/);
      assert.ok(cli.rssMb <= CLI_RSS_MB_MAX, `CLI RSS ${cli.rssMb} MB`);
      assert.ok(server.connections >= 2, `${server.connections} dials`);
      console.log(
        `hostile server: ${server.connections} connections, CLI peak RSS ${
          cli.rssMb.toFixed(1)
        } MB, master peak RSS ${peak.rssMb.toFixed(1)} MB (baseline ${
          target.baseline.rssMb.toFixed(1)
        })`,
      );
      await server.close();
      await target.assertCalm(peak, {
        rssMarginMb: 32,
        fdsPeakMax: target.baseline.fds + 8,
        attackMs: performance.now() - started,
      });
    } finally {
      await server.close();
    }
  });
});
