/**
 * What a reload does to running drivers and checks (DriverHost.prepare,
 * CheckHost.prepare): unchanged entries keep their Worker, state and
 * counters and run nothing; new or changed ones start and drivers among them
 * are told the current role once; removed ones stop; a new one that cannot
 * start leaves everything as it was. Real scripts in a temp dir.
 */

import assert from "node:assert/strict";
import type { BashDriverConfig, CheckConfig } from "../../src/config/types.ts";
import { CheckHost } from "../../src/daemon/check_host.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import { describeUpdate } from "../../src/daemon/reload.ts";
import {
  captureLogs,
  type ScriptDir,
  scriptDir,
  waitFor,
} from "../fixtures/drivers/scripts.ts";

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

/** A bash driver whose promote logs "<label> promote <term>" to runs.log. */
async function driver(
  dir: ScriptDir,
  id: string,
  label = id,
): Promise<BashDriverConfig> {
  const promote = await dir.script(
    `${label}.sh`,
    `echo "${label} $CLUSTD_EVENT $CLUSTD_TERM" >> ${dir.file("runs.log")}`,
  );
  return { type: "bash", id, promote, demote: promote, timeoutMs: 5000 };
}

Deno.test("DriverHost.prepare() keeps an unchanged driver, restarts a changed one, stops a removed one", async () => {
  await using dir = await scriptDir();
  using _logs = captureLogs();
  const [a, b, c] = [
    await driver(dir, "a"),
    await driver(dir, "b"),
    await driver(dir, "c"),
  ];
  const host = new DriverHost([a, b, c], {
    nodeId: "web-1",
    webhookKey: new Uint8Array(32),
  });
  await host.start();
  try {
    host.dispatch(role("promote", 3));
    await host.settled();
    assert.equal((await dir.lines("runs.log")).length, 3);
    const b2 = await driver(dir, "b", "b2");
    const update = await host.prepare([a, b2]);
    assert.ok(typeof update !== "string", String(update));
    assert.deepEqual(
      [update.added, update.kept, update.removed],
      [["b"], ["a"], ["b", "c"]],
    );
    assert.equal(describeUpdate("drivers", update), "drivers ~b -c");
    assert.equal(
      (await dir.lines("runs.log")).length,
      3,
      "prepare runs nothing",
    );
    await update.commit(role("promote", 3));
    await host.settled();
    assert.deepEqual((await dir.lines("runs.log")).slice(3), ["b2 promote 3"]);
    assert.deepEqual(host.stats().map((s) => [s.name, s.index, s.runs]), [
      ["a", 0, 1],
      ["b", 1, 1],
    ], "a kept its counters; the new b starts from its one run");
    // The kept driver still collapses against its last applied event.
    host.dispatch(role("promote", 3));
    host.dispatch(role("demote", 3));
    await host.settled();
    assert.deepEqual((await dir.lines("runs.log")).slice(4).sort(), [
      "a demote 3",
      "b2 demote 3",
    ]);
  } finally {
    await host.stop();
  }
});

Deno.test("DriverHost.prepare() that cannot start a new driver changes nothing", async () => {
  await using dir = await scriptDir();
  using _logs = captureLogs();
  const a = await driver(dir, "a");
  const host = new DriverHost([a], {
    nodeId: "web-1",
    webhookKey: new Uint8Array(32),
  });
  await host.start();
  try {
    // A webhook Worker refuses a URL it cannot hold a permission for.
    const update = await host.prepare([a, {
      type: "webhook",
      id: "w",
      url: "not a url",
      timeoutMs: 100,
      retries: 0,
    }]);
    assert.equal(typeof update, "string");
    assert.match(String(update), /Cannot start driver w/);
    assert.deepEqual(host.stats().map((s) => s.name), ["a"]);
    host.dispatch(role("promote", 1));
    await host.settled();
    assert.deepEqual(await dir.lines("runs.log"), ["a promote 1"]);
  } finally {
    await host.stop();
  }
});

function check(id: string, command: string): CheckConfig {
  return {
    id,
    command,
    args: [],
    intervalMs: 30,
    timeoutMs: 1000,
    rise: 1000,
    fall: 1000,
  };
}

Deno.test("CheckHost.prepare() keeps an unchanged check's counters and adds a new one", async () => {
  await using dir = await scriptDir();
  using _logs = captureLogs();
  const ok = await dir.script("ok.sh", "exit 0");
  const host = new CheckHost([check("kept", ok)], { onChange: () => {} });
  await host.start();
  try {
    assert.ok(
      await waitFor(() => (host.status()[0]?.successesInRow ?? 0) >= 3, 3000),
    );
    const before = host.status()[0]?.successesInRow ?? 0;
    const update = await host.prepare([check("kept", ok), check("new", ok)]);
    assert.ok(typeof update !== "string", String(update));
    assert.deepEqual([update.added, update.kept, update.removed], [
      ["new"],
      ["kept"],
      [],
    ]);
    await update.commit();
    const [kept, added] = host.status();
    assert.ok(
      (kept?.successesInRow ?? 0) >= before,
      "the kept check counts on",
    );
    assert.ok((added?.successesInRow ?? 99) < before, "the new one from 0");
    assert.equal(host.healthy(), false, "rise 1000 not reached by either");
    const removal = await host.prepare([check("new", ok)]);
    assert.ok(typeof removal !== "string");
    assert.deepEqual(removal.removed, ["kept"]);
    await removal.commit();
    assert.deepEqual(host.status().map((s) => s.id), ["new"]);
  } finally {
    await host.stop();
  }
});
