import assert from "node:assert/strict";
import type { CheckConfig } from "../../src/config/types.ts";
import { CheckHost, RiseFall } from "../../src/daemon/check_host.ts";
import { WorkerClient } from "../../src/daemon/_worker_client.ts";
import {
  findKillProgram,
  spawnCheckWorker,
} from "../../src/daemon/_workers.ts";
import { Logger } from "../../src/log.ts";
import {
  captureLogs,
  processAlive,
  scriptDir,
  waitFor,
} from "../fixtures/drivers/scripts.ts";

function check(
  command: string,
  config: Partial<CheckConfig> = {},
): CheckConfig {
  return {
    id: "check-0",
    command,
    args: [],
    intervalMs: 50,
    timeoutMs: 1000,
    rise: 2,
    fall: 2,
    ...config,
  };
}

interface Change {
  healthy: boolean;
  detail: string;
}

async function withChecks(
  checks: CheckConfig[],
  body: (host: CheckHost, changes: Change[]) => Promise<void>,
): Promise<void> {
  const changes: Change[] = [];
  const host = new CheckHost(checks, {
    onChange: (healthy, detail) => changes.push({ healthy, detail }),
  });
  await host.start();
  try {
    await body(host, changes);
  } finally {
    await host.stop();
  }
}

Deno.test("RiseFall starts unhealthy, needs `rise` successes in a row, `fall` failures in a row", () => {
  const table: {
    rise: number;
    fall: number;
    results: boolean[];
    healthy: boolean[];
  }[] = [
    { rise: 2, fall: 3, results: [true, true], healthy: [false, true] },
    {
      rise: 2,
      fall: 3,
      results: [true, false, true, true],
      healthy: [false, false, false, true],
    },
    {
      rise: 1,
      fall: 3,
      results: [true, false, false, true, false, false, false],
      healthy: [true, true, true, true, true, true, false],
    },
    {
      rise: 3,
      fall: 1,
      results: [false, false, false],
      healthy: [false, false, false],
    },
    {
      rise: 1,
      fall: 1,
      results: [true, false, true],
      healthy: [true, false, true],
    },
  ];
  for (const { rise, fall, results, healthy } of table) {
    const counter = new RiseFall(rise, fall);
    assert.equal(counter.healthy, false);
    assert.deepEqual(
      results.map((ok) => {
        counter.record(ok);
        return counter.healthy;
      }),
      healthy,
      `rise ${rise} fall ${fall} results ${results}`,
    );
  }
});

Deno.test("CheckHost with no checks is healthy at once", async () => {
  await withChecks([], (host, changes) => {
    assert.equal(host.healthy(), true);
    assert.deepEqual(changes, []);
    return Promise.resolve();
  });
});

Deno.test("a check toggled by a file rises and falls after rise/fall results in a row", async () => {
  await using dir = await scriptDir();
  const okFile = dir.file("ok");
  const command = await dir.script(
    "check.sh",
    `echo run >> ${dir.file("runs.log")}; test -e ${okFile}`,
  );
  await Deno.writeTextFile(okFile, "");
  using _logs = captureLogs();
  await withChecks([check(command)], async (host, changes) => {
    assert.equal(host.healthy(), false, "unhealthy until `rise` successes");
    assert.ok(
      await waitFor(() => changes.length === 1, 2000),
      "became healthy",
    );
    assert.equal(changes[0]?.healthy, true);
    assert.ok(
      (await dir.lines("runs.log")).length >= 2,
      "needed two successes",
    );
    assert.equal(host.healthy(), true);

    await Deno.remove(okFile);
    const runsBefore = (await dir.lines("runs.log")).length;
    assert.ok(
      await waitFor(() => changes.length === 2, 2000),
      "became unhealthy",
    );
    assert.equal(changes[1]?.healthy, false);
    assert.match(
      changes[1]!.detail,
      /check check-0 failing: exit 1 \(2 in a row\)/,
    );
    assert.ok(
      (await dir.lines("runs.log")).length - runsBefore >= 2,
      "needed two failures",
    );
    assert.equal(host.healthy(), false);
    assert.deepEqual(host.status().map((s) => s.healthy), [false]);

    await Deno.writeTextFile(okFile, "");
    assert.ok(await waitFor(() => changes.length === 3, 2000), "recovered");
    assert.equal(changes[2]?.healthy, true);
    assert.equal(changes[2]?.detail, "all 1 checks pass");
  });
});

Deno.test("a reloaded CheckHost of a healthy node starts healthy and falls only after `fall` failures", async () => {
  await using dir = await scriptDir();
  const okFile = dir.file("ok");
  const command = await dir.script(
    "check.sh",
    `echo run >> ${dir.file("runs.log")}; test -e ${okFile}`,
  );
  using _logs = captureLogs();
  const changes: Change[] = [];
  const host = new CheckHost([check(command)], {
    onChange: (healthy, detail) => changes.push({ healthy, detail }),
    startHealthy: true,
  });
  assert.equal(host.healthy(), true, "healthy before any run");
  await host.start();
  try {
    // The check fails from the start (no ok file): healthy until 2 failures.
    assert.ok(
      await waitFor(() => changes.length === 1, 2000),
      "became unhealthy",
    );
    assert.equal(changes[0]?.healthy, false);
    assert.ok((await dir.lines("runs.log")).length >= 2, "after two failures");
  } finally {
    await host.stop();
  }
});

Deno.test("a check that hangs is killed with its process group at timeout and counts as a failure", async () => {
  await using dir = await scriptDir();
  const hangFile = dir.file("hang");
  const command = await dir.script(
    "check.sh",
    `if test -e ${hangFile}; then sleep 30 & echo $! > ${
      dir.file("child.pid")
    }; wait; fi`,
  );
  using _logs = captureLogs();
  await withChecks(
    [check(command, { rise: 1, fall: 1, timeoutMs: 200 })],
    async (host, changes) => {
      assert.ok(await waitFor(() => host.healthy(), 2000));
      await Deno.writeTextFile(hangFile, "");
      const startedMs = performance.now();
      assert.ok(
        await waitFor(() => changes.length === 2, 3000),
        "hang counted as a failure",
      );
      const elapsedMs = performance.now() - startedMs;
      assert.ok(
        elapsedMs >= 200,
        `failed after ${elapsedMs} ms, before the timeout`,
      );
      assert.equal(changes[1]?.healthy, false);
      assert.match(changes[1]!.detail, /timed out after 200 ms/);
      const [childPid] = await dir.lines("child.pid");
      assert.ok(childPid !== undefined);
      assert.ok(
        await waitFor(() => !processAlive(Number(childPid)), 1000),
        "child sleep survived",
      );
      await Deno.remove(hangFile);
    },
  );
});

Deno.test("a check that cannot start counts as a failure; the aggregate needs every check", async () => {
  await using dir = await scriptDir();
  const good = await dir.script("good.sh", "exit 0");
  const missing = dir.file("missing.sh");
  using _logs = captureLogs();
  await withChecks(
    [check(good, { rise: 1 }), check(missing, { rise: 1 })],
    async (host) => {
      assert.ok(
        await waitFor(
          () => host.status().every((s) => s.lastResult !== "not run yet"),
          2000,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(host.healthy(), false);
      const [first, second] = host.status();
      assert.equal(first?.healthy, true);
      assert.equal(second?.healthy, false);
      assert.match(second!.lastResult, /NotFound/);
    },
  );
});

Deno.test("check Worker cannot run a program other than its command", async () => {
  await using dir = await scriptDir();
  const command = await dir.script("check.sh", "exit 0");
  const config = check(command);
  const killPath = findKillProgram();
  const client = new WorkerClient(
    "check-test",
    () => spawnCheckWorker(config, killPath),
    new Logger("test"),
  );
  await client.start();
  try {
    const reply = await client.request(
      {
        kind: "run",
        path: "/bin/sh",
        args: ["-c", "true"],
        env: {},
        timeoutMs: 1000,
        killPath,
      },
      3000,
    );
    assert.equal(reply.kind, "run_result");
    assert.equal(
      reply.kind === "run_result" ? reply.result.errorName : null,
      "NotCapable",
    );
  } finally {
    await client.stop(1000);
  }
});
