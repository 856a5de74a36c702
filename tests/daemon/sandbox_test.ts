/**
 * The shared sandbox Worker: one Worker serves a node's bash driver,
 * webhook, checks and resource drivers, each unit apart; its permissions are
 * the union of what the config names and nothing more.
 */
import assert from "node:assert/strict";
import type {
  BashDriverConfig,
  CheckConfig,
  DriverConfig,
  FloatingIpDriverConfig,
} from "../../src/config/types.ts";
import { CheckHost } from "../../src/daemon/check_host.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import { Sandbox } from "../../src/daemon/sandbox.ts";
import {
  findKillProgram,
  sandboxPermissions,
} from "../../src/daemon/_workers.ts";
import { scriptDir, waitFor } from "../fixtures/drivers/scripts.ts";
import { FakeCloud, FLOATING_IP, TOKEN } from "../drivers/_cloud_fakes.ts";

function promote(term: number): RoleEvent {
  return {
    event: "promote",
    reason: "elected",
    role: "master",
    term,
    nodeId: "n1",
    masterId: "n1",
  };
}

function check(command: string): CheckConfig {
  return {
    id: command.split("/").pop() ?? "check",
    command,
    args: [],
    intervalMs: 50,
    timeoutMs: 1000,
    rise: 1,
    fall: 1,
  };
}

Deno.test("sandboxPermissions() is the union of what drivers and checks name, and nothing else", () => {
  const drivers: DriverConfig[] = [
    {
      type: "bash",
      id: "b",
      promote: "/p.sh",
      demote: "/d.sh",
      timeoutMs: 1,
    },
    {
      type: "webhook",
      id: "w",
      url: "https://hooks.example/x",
      timeoutMs: 1,
      retries: 0,
    },
    { type: "external", id: "x" },
    {
      type: "vip",
      id: "v",
      address: "10.0.0.100/24",
      interface: "eth0",
      announceCount: 1,
      announceIntervalMs: 0,
      reconcileMs: 10,
      ipProgram: "/usr/sbin/ip",
      announceProgram: "/usr/bin/arping",
    },
    {
      type: "floating_ip",
      id: "f",
      provider: "hetzner",
      ip: "203.0.113.1",
      floatingIpId: "1",
      token: "t",
      tokenFile: "/t",
      apiUrl: "https://api.hetzner.cloud/v1",
      metadataUrl: "http://169.254.169.254",
      timeoutMs: 1,
      retries: 0,
      readbackMs: 1,
      reconcileMs: 10,
    },
  ];
  const permissions = sandboxPermissions(
    drivers,
    [check("/c.sh")],
    "/usr/bin/kill",
  );
  assert.deepEqual(permissions, {
    read: false,
    write: false,
    env: false,
    ffi: false,
    sys: false,
    import: false,
    run: [
      "/c.sh",
      "/d.sh",
      "/p.sh",
      "/usr/bin/arping",
      "/usr/bin/kill",
      "/usr/sbin/ip",
    ],
    net: ["169.254.169.254:80", "api.hetzner.cloud:443", "hooks.example:443"],
  });
  const none = sandboxPermissions([], [], null);
  assert.equal(none.run, false);
  assert.equal(none.net, false);
});

Deno.test("one sandbox serves a bash driver and two checks, and refuses programs the config does not name", async () => {
  await using dir = await scriptDir();
  const hook = await dir.script(
    "hook.sh",
    `echo "$CLUSTD_EVENT $CLUSTD_TERM" >> ${dir.file("hook.log")}`,
  );
  const ok = await dir.script("ok.sh", `echo ok >> ${dir.file("checks.log")}`);
  const stray = await dir.script(
    "stray.sh",
    `echo stray >> ${dir.file("stray.log")}`,
  );
  const bash: BashDriverConfig = {
    type: "bash",
    id: "hook",
    promote: hook,
    timeoutMs: 2000,
  };
  const checks = [check(ok), check(ok)];
  const killPath = findKillProgram();
  const sandbox = new Sandbox(sandboxPermissions([bash], checks, killPath));
  const drivers = new DriverHost([bash], {
    nodeId: "n1",
    webhookKey: new Uint8Array(32),
    sandbox,
  });
  let healthy = false;
  const checkHost = new CheckHost(checks, {
    onChange: (value) => healthy = value,
    sandbox,
  });
  try {
    await drivers.start();
    await checkHost.start();
    drivers.dispatch(promote(4));
    await drivers.settled();
    assert.deepEqual(await dir.lines("hook.log"), ["promote 4"]);
    assert.ok(await waitFor(() => healthy, 3000), "both checks pass");
    // The same Worker, asked for a program no driver or check names.
    const channel = sandbox.channel("probe");
    const reply = await channel.request({
      kind: "run",
      path: stray,
      args: [],
      env: {},
      timeoutMs: 1000,
      killPath,
    }, 3000);
    assert.ok(reply.kind === "run_result");
    assert.equal(reply.result.errorName, "NotCapable");
    assert.deepEqual(await dir.lines("stray.log"), []);
    await channel.stop(1000);
  } finally {
    await checkHost.stop();
    await drivers.stop();
  }
});

Deno.test("after the sandbox Worker is restarted, a floating_ip unit is re-created and repairs drift from the fence", async () => {
  await using dir = await scriptDir();
  const slow = await dir.script("slow.sh", "sleep 2");
  const cloud = new FakeCloud("digitalocean", { selfId: "7", holder: "8" });
  cloud.actionPolls = 0;
  const bash: BashDriverConfig = {
    type: "bash",
    id: "hook",
    promote: slow,
    timeoutMs: 5000,
  };
  const floating: FloatingIpDriverConfig = {
    type: "floating_ip",
    id: "fip",
    provider: "digitalocean",
    ip: FLOATING_IP,
    token: TOKEN,
    tokenFile: "/t",
    apiUrl: cloud.apiUrl,
    metadataUrl: cloud.baseUrl,
    machineId: "7",
    timeoutMs: 1000,
    retries: 2,
    readbackMs: 2000,
    reconcileMs: 200,
  };
  const killPath = findKillProgram();
  const sandbox = new Sandbox(
    sandboxPermissions([bash, floating], [], killPath),
  );
  const drivers = new DriverHost([floating], {
    nodeId: "n1",
    webhookKey: new Uint8Array(32),
    sandbox,
  });
  const probe = sandbox.channel("probe");
  try {
    await drivers.start();
    drivers.dispatch(promote(3));
    await drivers.settled();
    assert.equal(cloud.holder, "7");
    // A request that misses its deadline makes the host restart the Worker:
    // every unit in it is gone until re-created.
    await assert.rejects(probe.request({
      kind: "run",
      path: slow,
      args: [],
      env: {},
      timeoutMs: 5000,
      killPath,
    }, 100));
    cloud.holder = "8";
    assert.ok(
      await waitFor(() => cloud.holder === "7", 5000),
      "drift repaired by the re-created unit",
    );
  } finally {
    await probe.stop(1000);
    await drivers.stop();
    await cloud.close();
  }
});
