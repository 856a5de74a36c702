/**
 * `cluster.status_allow` with IPv4-mapped IPv6 against a real daemon on a
 * dual-stack listener (`[::]`), where an IPv4 client arrives as
 * `::ffff:127.0.0.1` (issue 11: such networks were accepted by the config
 * and never matched, and the loopback default refused local IPv4 clients).
 */

import assert from "node:assert/strict";
import {
  clustdArgv,
  freePort,
  killChild,
  randomKey,
  readLog,
  ROOT,
  spawnLogged,
  waitFor,
} from "../_process.ts";

/** Status of GET /status from `host`, or 0 when nothing answers. */
async function statusCode(host: string, port: number): Promise<number> {
  try {
    const response = await fetch(`http://${host}:${port}/status`, {
      signal: AbortSignal.timeout(1000),
    });
    await response.body?.cancel();
    return response.status;
  } catch (_error: unknown) {
    return 0;
  }
}

async function withNode(
  statusAllow: string | null,
  body: (port: number, log: () => string) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "clustd-allow-" });
  const port = freePort();
  Deno.writeTextFileSync(`${dir}/secret`, randomKey() + "\n", { mode: 0o600 });
  Deno.writeTextFileSync(
    `${dir}/n1.yml`,
    `node:
  id: n1
  listen: "[::]:${port}"
  advertise: ws://127.0.0.1:${port}
cluster:
  secret_file: ${dir}/secret
  peers: []
  heartbeat_ms: 100
  election_timeout_ms: 200
${
      statusAllow === null
        ? ""
        : `  status_allow: ${statusAllow}\n`
    }state_dir: ${dir}/state
`,
  );
  const child = spawnLogged(
    clustdArgv(["run", "--config", `${dir}/n1.yml`]),
    `${dir}/n1.log`,
    { cwd: ROOT, env: { NO_COLOR: "1" } },
  );
  const log = () => readLog(`${dir}/n1.log`);
  try {
    assert.ok(
      await waitFor(async () => await statusCode("[::1]", port) !== 0, 15_000),
      log(),
    );
    await body(port, log);
  } finally {
    await killChild(child, 5000);
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("a mapped network admits IPv4 clients of a dual-stack listener, and only them", async () => {
  await withNode('["::ffff:127.0.0.0/104"]', async (port, log) => {
    assert.equal(await statusCode("127.0.0.1", port), 200, log());
    assert.equal(await statusCode("[::1]", port), 403);
  });
});

Deno.test("the loopback default admits a local IPv4 client that arrives as ::ffff:127.0.0.1", async () => {
  await withNode(null, async (port, log) => {
    assert.equal(await statusCode("127.0.0.1", port), 200, log());
    assert.equal(await statusCode("[::1]", port), 200);
  });
});
