import assert from "node:assert/strict";
import type { BashDriverConfig } from "../../src/config/types.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import { WorkerClient } from "../../src/daemon/_worker_client.ts";
import {
  bashWorkerPermissions,
  checkWorkerPermissions,
  findKillProgram,
  spawnBashWorker,
  webhookWorkerPermissions,
} from "../../src/daemon/_workers.ts";
import { Logger } from "../../src/log.ts";
import { SCRIPT_PATH } from "../../drivers/_protocol.ts";
import {
  captureLogs,
  processAlive,
  scriptDir,
  waitFor,
} from "../fixtures/drivers/scripts.ts";

const SECRET = new Uint8Array(32).fill(7);

function promoteEvent(term: number): RoleEvent {
  return {
    event: "promote",
    reason: "elected",
    role: "master",
    term,
    nodeId: "web-1",
    masterId: "web-1",
  };
}

function bash(config: Partial<BashDriverConfig>): BashDriverConfig {
  return { type: "bash", id: "bash-0", timeoutMs: 5000, ...config };
}

async function withHost(
  drivers: BashDriverConfig[],
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

Deno.test("bash driver passes exactly the CLUSTD_* variables, PATH and cwd / to the script", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script(
    "promote.sh",
    `env | sort > ${dir.file("env.txt")}; pwd > ${dir.file("pwd.txt")}`,
  );
  Deno.env.set("CLUSTD_TEST_CANARY", "leaked");
  try {
    await withHost([bash({ promote })], async (host) => {
      host.dispatch({ ...promoteEvent(42), masterId: "web-1" });
      await host.settled();
    });
  } finally {
    Deno.env.delete("CLUSTD_TEST_CANARY");
  }
  const env = new Map(
    (await dir.lines("env.txt")).map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)] as const;
    }),
  );
  assert.equal(env.get("CLUSTD_EVENT"), "promote");
  assert.equal(env.get("CLUSTD_REASON"), "elected");
  assert.equal(env.get("CLUSTD_ROLE"), "master");
  assert.equal(env.get("CLUSTD_TERM"), "42");
  assert.equal(env.get("CLUSTD_NODE_ID"), "web-1");
  assert.equal(env.get("CLUSTD_MASTER_ID"), "web-1");
  assert.equal(env.get("PATH"), SCRIPT_PATH);
  assert.equal(env.get("CLUSTD_TEST_CANARY"), undefined);
  assert.equal(env.get("HOME"), undefined);
  // Only what we set plus what bash itself exports (PWD, SHLVL, _).
  const unexpected = [...env.keys()].filter((name) =>
    !name.startsWith("CLUSTD_") && !["PATH", "PWD", "SHLVL", "_"].includes(name)
  );
  assert.deepEqual(unexpected, []);
  assert.deepEqual(await dir.lines("pwd.txt"), ["/"]);
});

Deno.test("bash driver kills a hanging script's whole process group at timeout_ms", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script(
    "promote.sh",
    `sleep 30 & echo $! > ${dir.file("child.pid")}; echo started; wait`,
  );
  using logs = captureLogs();
  await withHost([bash({ promote, timeoutMs: 300 })], async (host) => {
    const startedMs = performance.now();
    host.dispatch(promoteEvent(3));
    await host.settled();
    const elapsedMs = performance.now() - startedMs;
    assert.ok(elapsedMs >= 300 && elapsedMs < 2000, `took ${elapsedMs} ms`);
    const [stat] = host.stats();
    assert.equal(stat?.runs, 1);
    assert.equal(stat?.timeouts, 1);
    assert.equal(stat?.failures, 1);
  });
  const [childPid] = await dir.lines("child.pid");
  assert.ok(childPid !== undefined, "the script wrote its child's pid");
  // The kill is SIGKILL; allow the kernel a moment to finish it.
  assert.ok(
    await waitFor(() => !processAlive(Number(childPid)), 1000),
    "child sleep survived",
  );
  const line = logs.lines.find((l) => l.includes("script timed out"));
  assert.ok(line !== undefined, logs.lines.join("\n"));
  assert.match(line, /signal=SIGKILL/);
  assert.match(line, /started/);
});

Deno.test("bash driver logs and counts a non-zero exit with its output", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script("promote.sh", `echo "vip busy" >&2; exit 3`);
  using logs = captureLogs();
  await withHost([bash({ promote })], async (host) => {
    host.dispatch(promoteEvent(1));
    await host.settled();
    const [stat] = host.stats();
    assert.deepEqual(
      { runs: stat?.runs, failures: stat?.failures, timeouts: stat?.timeouts },
      { runs: 1, failures: 1, timeouts: 0 },
    );
  });
  const line = logs.lines.find((l) => l.includes("script failed"));
  assert.ok(line !== undefined, logs.lines.join("\n"));
  assert.match(line, /driver:bash/);
  assert.match(line, /exit_code=3/);
  assert.match(line, /term=1/);
  assert.match(line, /vip busy/);
});

Deno.test("bash driver keeps only the tail of a flood of output", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script(
    "promote.sh",
    `head -c 200000 /dev/zero | tr '\\0' 'x'; echo; echo THE-END`,
  );
  using logs = captureLogs();
  await withHost([bash({ promote })], async (host) => {
    host.dispatch(promoteEvent(1));
    await host.settled();
  });
  const line = logs.lines.find((l) => l.includes("script finished"));
  assert.ok(line !== undefined);
  assert.match(line, /THE-END/);
  assert.ok(line.length < 6000, `log line has ${line.length} chars`);
});

Deno.test("bash Worker cannot run a program its config does not name", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script("promote.sh", "echo allowed");
  const config = bash({ promote });
  const killPath = findKillProgram();
  const client = new WorkerClient(
    "bash-test",
    () => spawnBashWorker(config, killPath),
    new Logger("test"),
  );
  await client.start();
  try {
    const request = (path: string) =>
      client.request({
        kind: "run",
        path,
        args: [],
        env: {},
        timeoutMs: 2000,
        killPath,
      }, 5000);
    const allowed = await request(promote);
    assert.equal(allowed.kind, "run_result");
    assert.ok(allowed.kind === "run_result" && allowed.result.ok);
    assert.match(
      allowed.kind === "run_result" ? allowed.result.output : "",
      /allowed/,
    );
    for (const path of ["/bin/echo", "/usr/bin/env", "/bin/bash"]) {
      const denied = await request(path);
      assert.equal(denied.kind, "run_result");
      if (denied.kind !== "run_result") continue;
      assert.equal(denied.result.ok, false);
      assert.equal(
        denied.result.errorName,
        "NotCapable",
        `${path}: ${denied.result.error}`,
      );
    }
  } finally {
    await client.stop(2000);
  }
});

Deno.test("bash driver without a demote script treats demote as done", async () => {
  await using dir = await scriptDir();
  const promote = await dir.script(
    "promote.sh",
    `echo p >> ${dir.file("runs.log")}`,
  );
  await withHost([bash({ promote })], async (host) => {
    host.dispatch(promoteEvent(1));
    host.dispatch({ ...promoteEvent(1), event: "demote", role: "backup" });
    await host.settled();
    assert.equal(host.stats()[0]?.runs, 1);
  });
  assert.deepEqual(await dir.lines("runs.log"), ["p"]);
});

Deno.test("Worker permission sets grant only what the config names", () => {
  const denied = {
    read: false,
    write: false,
    env: false,
    ffi: false,
    sys: false,
    import: false,
  };
  assert.deepEqual(
    bashWorkerPermissions(
      bash({
        promote: "/etc/p.sh",
        demote: "/etc/p.sh",
        prePromote: "/etc/pre.sh",
      }),
      "/usr/bin/kill",
    ),
    {
      ...denied,
      net: false,
      run: ["/etc/p.sh", "/etc/pre.sh", "/usr/bin/kill"],
    },
  );
  assert.deepEqual(bashWorkerPermissions(bash({}), "/usr/bin/kill"), {
    ...denied,
    net: false,
    run: false,
  });
  assert.deepEqual(
    checkWorkerPermissions(
      {
        id: "check-0",
        command: "/usr/bin/check",
        args: ["-q"],
        intervalMs: 1,
        timeoutMs: 1,
        rise: 1,
        fall: 1,
      },
      null,
    ),
    { ...denied, net: false, run: ["/usr/bin/check"] },
  );
  assert.deepEqual(
    webhookWorkerPermissions({
      type: "webhook",
      id: "webhook-0",
      url: "https://hooks.example.com/clustd",
      timeoutMs: 1,
      retries: 0,
    }),
    { ...denied, run: false, net: ["hooks.example.com:443"] },
  );
});
