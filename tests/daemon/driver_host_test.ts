import assert from "node:assert/strict";
import type { BashDriverConfig, DriverConfig } from "../../src/config/types.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import {
  WorkerClient,
  WorkerFailure,
} from "../../src/daemon/_worker_client.ts";
import { Logger } from "../../src/log.ts";
import {
  captureLogs,
  processAlive,
  scriptDir,
  waitFor,
} from "../fixtures/drivers/scripts.ts";

const SECRET = new Uint8Array(32).fill(9);

function role(event: "promote" | "demote", term: number): RoleEvent {
  return {
    event,
    reason: event === "promote" ? "elected" : "quorum_lost",
    role: event === "promote" ? "master" : "backup",
    term,
    nodeId: "web-1",
    masterId: event === "promote" ? "web-1" : null,
  };
}

function bash(config: Partial<BashDriverConfig>): BashDriverConfig {
  return { type: "bash", id: "bash-0", timeoutMs: 5000, ...config };
}

async function withHost(
  drivers: DriverConfig[],
  body: (host: DriverHost) => Promise<void>,
): Promise<void> {
  const host = new DriverHost(drivers, {
    nodeId: "web-1",
    webhookKey: SECRET,
  });
  await host.start();
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

/** promote.sh logs "promote <term>" and takes 400 ms; demote.sh logs at once. */
async function recordingScripts(dir: Awaited<ReturnType<typeof scriptDir>>) {
  const log = dir.file("runs.log");
  return bash({
    promote: await dir.script(
      "promote.sh",
      `echo "promote $CLUSTD_TERM" >> ${log}; sleep 0.4`,
    ),
    demote: await dir.script(
      "demote.sh",
      `echo "demote $CLUSTD_TERM" >> ${log}`,
    ),
  });
}

Deno.test("dispatch() returns at once even while a slow script runs", async () => {
  await using dir = await scriptDir();
  await withHost([await recordingScripts(dir)], async (host) => {
    const startedMs = performance.now();
    host.dispatch(role("promote", 1));
    host.dispatch(role("demote", 1));
    host.dispatch(role("promote", 2));
    const elapsedMs = performance.now() - startedMs;
    assert.ok(elapsedMs < 50, `dispatch took ${elapsedMs} ms`);
    await host.settled();
  });
});

Deno.test("promote, demote, promote in one term while the first runs ends promoted with nothing rerun", async () => {
  await using dir = await scriptDir();
  await withHost([await recordingScripts(dir)], async (host) => {
    host.dispatch(role("promote", 5));
    host.dispatch(role("demote", 5));
    host.dispatch(role("promote", 5));
    await host.settled();
    assert.equal(host.stats()[0]?.runs, 1);
  });
  assert.deepEqual(await dir.lines("runs.log"), ["promote 5"]);
});

Deno.test("promote, demote, promote in a newer term runs promote once more with the new term", async () => {
  await using dir = await scriptDir();
  await withHost([await recordingScripts(dir)], async (host) => {
    host.dispatch(role("promote", 5));
    host.dispatch(role("demote", 5));
    host.dispatch(role("promote", 6));
    await host.settled();
  });
  assert.deepEqual(await dir.lines("runs.log"), ["promote 5", "promote 6"]);
});

Deno.test("promote then demote while promote runs ends demoted, each script once", async () => {
  await using dir = await scriptDir();
  await withHost([await recordingScripts(dir)], async (host) => {
    host.dispatch(role("promote", 5));
    host.dispatch(role("demote", 5));
    host.dispatch(role("promote", 5));
    host.dispatch(role("demote", 5));
    await host.settled();
  });
  assert.deepEqual(await dir.lines("runs.log"), ["promote 5", "demote 5"]);
});

Deno.test("events dispatched after an action finished run in order", async () => {
  await using dir = await scriptDir();
  await withHost([await recordingScripts(dir)], async (host) => {
    for (
      const event of [role("promote", 1), role("demote", 1), role("promote", 3)]
    ) {
      host.dispatch(event);
      await host.settled();
    }
  });
  assert.deepEqual(await dir.lines("runs.log"), [
    "promote 1",
    "demote 1",
    "promote 3",
  ]);
});

Deno.test("prePromote() is true when pre_promote exits 0 and sees the candidate's values", async () => {
  await using dir = await scriptDir();
  const prePromote = await dir.script(
    "pre.sh",
    `echo "$CLUSTD_EVENT $CLUSTD_ROLE $CLUSTD_TERM $CLUSTD_MASTER_ID" > ${
      dir.file("pre.txt")
    }`,
  );
  await withHost([bash({ prePromote })], async (host) => {
    assert.equal(host.hasPrePromote(), true);
    assert.equal(await host.prePromote(8, "web-1"), true);
  });
  assert.deepEqual(await dir.lines("pre.txt"), [
    "pre_promote candidate 8 web-1",
  ]);
});

Deno.test("prePromote() is false when pre_promote exits 1", async () => {
  await using dir = await scriptDir();
  const prePromote = await dir.script("pre.sh", "echo replica lagging; exit 1");
  using _logs = captureLogs();
  await withHost([bash({ prePromote })], async (host) => {
    assert.equal(await host.prePromote(8, "web-1"), false);
  });
});

Deno.test("prePromote() is false at the timeout when pre_promote hangs", async () => {
  await using dir = await scriptDir();
  const prePromote = await dir.script("pre.sh", "sleep 30");
  using _logs = captureLogs();
  await withHost([bash({ prePromote, timeoutMs: 300 })], async (host) => {
    const startedMs = performance.now();
    assert.equal(await host.prePromote(8, "web-1"), false);
    const elapsedMs = performance.now() - startedMs;
    assert.ok(elapsedMs >= 300 && elapsedMs < 2000, `took ${elapsedMs} ms`);
  });
});

Deno.test("prePromote() is false when any of several drivers vetoes, true with none configured", async () => {
  await using dir = await scriptDir();
  const yes = await dir.script("yes.sh", "exit 0");
  const no = await dir.script("no.sh", "exit 1");
  using _logs = captureLogs();
  await withHost(
    [bash({ prePromote: yes }), bash({ prePromote: no })],
    async (host) => {
      assert.equal(await host.prePromote(2, "web-1"), false);
    },
  );
  await withHost([bash({ promote: yes })], async (host) => {
    assert.equal(host.hasPrePromote(), false);
    assert.equal(await host.prePromote(2, "web-1"), true);
  });
});

Deno.test("a hung driver does not delay another driver", async () => {
  await using dir = await scriptDir();
  const hang = await dir.script("hang.sh", "sleep 30");
  const fast = await dir.script(
    "fast.sh",
    `echo fast >> ${dir.file("fast.log")}`,
  );
  const missing = dir.file("does-not-exist.sh");
  using logs = captureLogs();
  await withHost([
    bash({ promote: hang, timeoutMs: 1000 }),
    bash({ id: "bash-1", promote: missing }),
    bash({ id: "fast", promote: fast }),
    { type: "external", id: "ignored" },
  ], async (host) => {
    const startedMs = performance.now();
    host.dispatch(role("promote", 1));
    const deadline = startedMs + 800;
    while (
      (await dir.lines("fast.log")).length === 0 && performance.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(
      await dir.lines("fast.log"),
      ["fast"],
      "fast driver ran while the other hung",
    );
    await host.settled();
    const stats = host.stats();
    assert.deepEqual(stats.map((s) => s.name), ["bash-0", "bash-1", "fast"]);
    assert.deepEqual(stats.map((s) => [s.runs, s.failures, s.timeouts]), [
      [1, 1, 1],
      [1, 1, 0],
      [1, 0, 0],
    ]);
  });
  assert.ok(
    logs.lines.some((l) =>
      l.includes("script could not start") && l.includes("NotFound")
    ),
  );
});

Deno.test("a Worker that throws fails only its request and is replaced on the next one", async () => {
  using logs = captureLogs();
  const url =
    new URL("../fixtures/drivers/throwing_worker.ts", import.meta.url).href;
  let spawned = 0;
  const client = new WorkerClient("throwing", () => {
    spawned++;
    return new Worker(url, { type: "module" });
  }, new Logger("test"));
  await client.start();
  try {
    const run = (path: string, deadlineMs = 2000) =>
      client.request({
        kind: "run",
        path,
        args: [],
        env: {},
        timeoutMs: 100,
        killPath: null,
      }, deadlineMs);
    await assert.rejects(run("crash"), WorkerFailure);
    const reply = await run("after-crash");
    assert.equal(reply.kind, "run_result");
    assert.equal(spawned, 2);
    await assert.rejects(run("hang", 200), /no reply within 200 ms/);
    assert.equal((await run("after-hang")).kind, "run_result");
    assert.equal(spawned, 3);
  } finally {
    await client.stop(500);
  }
  assert.ok(
    logs.lines.some((l) => l.includes("crashed")),
    logs.lines.join("\n"),
  );
});

Deno.test("stop() kills a running script's process group and terminates the Workers", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script(
    "promote.sh",
    `sleep 30 & echo $! > ${dir.file("child.pid")}; wait`,
  );
  using _logs = captureLogs();
  const host = new DriverHost([bash({ promote, timeoutMs: 20_000 })], {
    nodeId: "web-1",
    webhookKey: SECRET,
  });
  await host.start();
  host.dispatch(role("promote", 1));
  assert.ok(
    await waitFor(
      async () => (await dir.lines("child.pid")).length === 1,
      2000,
    ),
  );
  const startedMs = performance.now();
  await host.stop();
  await host.settled();
  assert.ok(
    performance.now() - startedMs < 3000,
    "stop did not wait for the script",
  );
  const [childPid] = await dir.lines("child.pid");
  assert.ok(
    await waitFor(() => !processAlive(Number(childPid)), 1000),
    "child sleep survived",
  );
});
