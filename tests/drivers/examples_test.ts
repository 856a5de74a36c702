import assert from "node:assert/strict";
import { processAlive, waitFor } from "../fixtures/drivers/scripts.ts";

const EXAMPLES = ["vip.sh", "systemd_service.sh", "do_floating_ip.sh"];
const SCRIPT_PATH =
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function examplePath(name: string): string {
  return new URL(`../../drivers/examples/${name}`, import.meta.url).pathname;
}

async function run(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(program, {
    args,
    env: { PATH: SCRIPT_PATH, ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("example hooks are valid bash, executable, strict, and document themselves", async () => {
  for (const name of EXAMPLES) {
    const path = examplePath(name);
    const syntax = await run("bash", ["-n", path]);
    assert.equal(syntax.code, 0, `${name}: ${syntax.output}`);
    const text = await Deno.readTextFile(path);
    assert.match(text, /^#!\/usr\/bin\/env bash\n# clustd hook: /, name);
    assert.match(text, /\nset -euo pipefail\n/, name);
    assert.match(text, /CLUSTD_EVENT/, name);
    assert.ok(
      ((await Deno.stat(path)).mode ?? 0) & 0o111,
      `${name} is executable`,
    );
  }
});

Deno.test("example hooks refuse an unknown CLUSTD_EVENT with exit 2 and change nothing", async () => {
  for (const name of EXAMPLES) {
    const result = await run("bash", [examplePath(name)], {
      CLUSTD_EVENT: "bogus",
      VIP_ENV_FILE: "/nonexistent",
      SERVICE_ENV_FILE: "/nonexistent",
      DO_ENV_FILE: "/nonexistent",
    });
    assert.equal(result.code, 2, `${name}: ${result.output}`);
    assert.match(result.output, /unknown CLUSTD_EVENT 'bogus'/);
  }
});

function netnsAvailable(): boolean {
  try {
    return Deno.uid() === 0 &&
      new Deno.Command("ip", {
        args: ["netns", "list"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync().success;
  } catch (_error: unknown) {
    return false;
  }
}

Deno.test({
  name:
    "vip.sh adds the VIP on promote and removes it on demote (inside a network namespace)",
  ignore: !netnsAvailable(),
  async fn() {
    const ns = `clustd-vip-test-${Deno.pid}`;
    const vip = "198.18.0.77/24";
    const ip = (...args: string[]) => run("ip", args);
    const hasVip = async () =>
      (await ip("-n", ns, "-o", "addr", "show", "dev", "lo")).output
        .includes(" 198.18.0.77/");
    assert.equal((await ip("netns", "add", ns)).code, 0);
    try {
      // The namespace's own loopback carries the VIP: no dummy/veth module needed.
      assert.equal((await ip("-n", ns, "link", "set", "lo", "up")).code, 0);
      const hook = (event: string) =>
        run("ip", ["netns", "exec", ns, "bash", examplePath("vip.sh")], {
          CLUSTD_EVENT: event,
          CLUSTD_TERM: "4",
          VIP: vip,
          DEV: "lo",
          ARP_COUNT: "1",
          ANNOUNCE: "no",
          VIP_ENV_FILE: "/nonexistent",
        });
      const promoted = await hook("promote");
      assert.equal(promoted.code, 0, promoted.output);
      assert.equal(await hasVip(), true);
      assert.equal((await hook("promote")).code, 0, "promote is idempotent");
      const demoted = await hook("demote");
      assert.equal(demoted.code, 0, demoted.output);
      assert.equal(await hasVip(), false);
      assert.equal((await hook("demote")).code, 0, "demote is idempotent");
    } finally {
      assert.equal((await ip("netns", "del", ns)).code, 0);
    }
  },
});

/**
 * A bin dir with a fake `ip` (logs its arguments, shows no address) and,
 * unless left out, a fake `arping` that logs its arguments and then sleeps
 * `arpingSeconds` (as `-c 3` would), in front of the real PATH.
 */
async function fakeTools(
  options: { arping: boolean; arpingSeconds?: number },
): Promise<
  { dir: string; path: string; calls(): Promise<string[]> } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "clustd-vip-fake-" });
  const calls = `${dir}/calls.log`;
  const tool = async (name: string, body: string) => {
    await Deno.writeTextFile(
      `${dir}/bin/${name}`,
      `#!/bin/bash\necho "${name} $*" >> ${calls}\n${body}\n`,
    );
    await Deno.chmod(`${dir}/bin/${name}`, 0o755);
  };
  await Deno.mkdir(`${dir}/bin`);
  await tool("ip", "exit 0");
  if (options.arping) {
    await tool("arping", `sleep ${options.arpingSeconds ?? 3}`);
  }
  return {
    dir,
    path: `${dir}/bin:${SCRIPT_PATH}`,
    async calls() {
      try {
        return (await Deno.readTextFile(calls)).split("\n").filter((l) =>
          l !== ""
        );
      } catch (_error: unknown) {
        return [];
      }
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function vipEnv(
  tools: { dir: string; path: string },
  event: string,
  settings: Record<string, string>,
): Record<string, string> {
  return {
    PATH: tools.path,
    CLUSTD_EVENT: event,
    CLUSTD_TERM: "7",
    VIP_ENV_FILE: "/nonexistent",
    RUN_DIR: `${tools.dir}/run`,
    ...settings,
  };
}

Deno.test("vip.sh refuses to run without its address and device, or with bad ones, and changes nothing", async () => {
  await using tools = await fakeTools({ arping: true });
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /VIP and DEV must be set in \/nonexistent/],
    [{ VIP: "10.0.0.100/24" }, /VIP and DEV must be set/],
    [{ DEV: "eth0" }, /VIP and DEV must be set/],
    [{ VIP: "10.0.0.100", DEV: "eth0" }, /must be an address with its prefix/],
    [{ VIP: "10.0.0.100/24", DEV: "eth0; rm" }, /is not an interface name/],
    [
      { VIP: "10.0.0.100/24", DEV: "eth0", ARP_COUNT: "0" },
      /ARP_COUNT='0' must be a whole number from 1 to 100/,
    ],
  ];
  for (const event of ["promote", "demote"]) {
    for (const [settings, message] of cases) {
      const result = await run(
        "bash",
        [examplePath("vip.sh")],
        vipEnv(tools, event, settings),
      );
      const what = `${event} ${JSON.stringify(settings)}: ${result.output}`;
      assert.equal(result.code, 2, what);
      assert.match(result.output, message, what);
    }
  }
  assert.deepEqual(await tools.calls(), [], "no ip or arping call");
});

Deno.test("vip.sh announces in the background: promote returns before arping ends, demote stops it", async () => {
  await using tools = await fakeTools({ arping: true, arpingSeconds: 5 });
  const settings = { VIP: "198.18.0.77/24", DEV: "veth9", ARP_COUNT: "3" };
  const startedMs = performance.now();
  const promoted = await run(
    "bash",
    [examplePath("vip.sh")],
    vipEnv(tools, "promote", settings),
  );
  const elapsedMs = performance.now() - startedMs;
  assert.equal(promoted.code, 0, promoted.output);
  // Design bound with a wide margin: the fake arping takes 5 s.
  assert.ok(elapsedMs < 2500, `promote took ${elapsedMs} ms`);
  assert.match(promoted.output, /in the background \(pid \d+\)/);
  const pid = Number(/pid (\d+)/.exec(promoted.output)?.[1]);
  assert.ok(
    await waitFor(async () => (await tools.calls()).length === 2, 2000),
    "arping started",
  );
  assert.deepEqual(await tools.calls(), [
    "ip addr replace 198.18.0.77/24 dev veth9",
    "arping -U -c 3 -I veth9 198.18.0.77",
  ]);
  assert.equal(processAlive(pid), true, "the announcer still runs");

  const demoted = await run(
    "bash",
    [examplePath("vip.sh")],
    vipEnv(tools, "demote", settings),
  );
  assert.equal(demoted.code, 0, demoted.output);
  assert.match(demoted.output, /stopped the announcement still running/);
  assert.ok(
    await waitFor(() => !processAlive(pid), 2000),
    "demote killed the announcer, so it never announces an address let go",
  );
});

Deno.test("vip.sh says loudly (stderr, exit 3) that arping is missing, unless ANNOUNCE=no", async () => {
  await using tools = await fakeTools({ arping: false });
  // A PATH of the fake ip and bash only, so an arping installed on this
  // machine stays out of sight.
  const bash = (await run("bash", ["-c", "command -v bash"])).output.trim();
  await Deno.symlink(bash, `${tools.dir}/bin/bash`);
  const only = `${tools.dir}/bin`;
  const settings = { VIP: "198.18.0.77/24", DEV: "veth9" };
  const promoted = await run("bash", [examplePath("vip.sh")], {
    ...vipEnv(tools, "promote", settings),
    PATH: only,
  });
  assert.equal(promoted.code, 3, promoted.output);
  assert.match(
    promoted.output,
    /error: arping not found: .* install iputils-arping, or set ANNOUNCE=no/,
  );
  assert.deepEqual(await tools.calls(), [
    "ip addr replace 198.18.0.77/24 dev veth9",
  ]);
  const quiet = await run("bash", [examplePath("vip.sh")], {
    ...vipEnv(tools, "promote", { ...settings, ANNOUNCE: "no" }),
    PATH: only,
  });
  assert.equal(quiet.code, 0, quiet.output);
});

Deno.test({
  name:
    "vip.sh announces the VIP with real gratuitous ARP a neighbour learns, without waiting for arping (two namespaces, veth)",
  ignore: !netnsAvailable(),
  async fn() {
    const [a, b] = [`clustd-vipa-${Deno.pid}`, `clustd-vipb-${Deno.pid}`];
    const ip = (...args: string[]) => run("ip", args);
    const runDir = await Deno.makeTempDir({ prefix: "clustd-vip-run-" });
    const must = async (result: Promise<{ code: number; output: string }>) => {
      const { code, output } = await result;
      assert.equal(code, 0, output);
      return output;
    };
    try {
      // Each string is one `ip` command; words split at spaces.
      for (
        const words of [
          `netns add ${a}`,
          `netns add ${b}`,
          `-n ${a} link add va type veth peer name vb netns ${b}`,
          `-n ${a} addr add 198.18.0.81/24 dev va`,
          `-n ${b} addr add 198.18.0.82/24 dev vb`,
          `-n ${a} link set va up`,
          `-n ${b} link set vb up`,
          // b may create a neighbour entry from a gratuitous ARP.
          `netns exec ${b} sysctl -qw net.ipv4.conf.vb.arp_accept=1`,
        ]
      ) await must(ip(...words.split(" ")));
      const mac = /link\/ether ([0-9a-f:]{17})/.exec(
        await must(ip("-n", a, "link", "show", "va")),
      )?.[1];
      assert.ok(mac !== undefined, "va has a MAC");
      const hook = (event: string, announce = "yes") =>
        run("ip", ["netns", "exec", a, "bash", examplePath("vip.sh")], {
          CLUSTD_EVENT: event,
          CLUSTD_TERM: "5",
          VIP: "198.18.0.77/24",
          DEV: "va",
          ARP_COUNT: "3",
          RUN_DIR: runDir,
          ANNOUNCE: announce,
          VIP_ENV_FILE: "/nonexistent",
        });
      const neighbour = async () =>
        (await ip("-n", b, "neigh", "show", "198.18.0.77", "dev", "vb")).output;
      // Control: without announcements b never hears of the VIP.
      assert.equal((await hook("promote", "no")).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await neighbour(), "", "no entry without an announcement");
      const startedMs = performance.now();
      const promoted = await hook("promote");
      const elapsedMs = performance.now() - startedMs;
      assert.equal(promoted.code, 0, promoted.output);
      // Three ARPs one a second would take 2 s in the foreground.
      assert.ok(elapsedMs < 1500, `promote took ${elapsedMs} ms`);
      const learned = await waitFor(
        async () =>
          (await ip("-n", b, "neigh", "show", "198.18.0.77", "dev", "vb"))
            .output
            .includes(`lladdr ${mac}`),
        3000,
      );
      assert.ok(
        learned,
        "the neighbour learned the VIP's MAC from the announcement",
      );
      const demoted = await hook("demote");
      assert.equal(demoted.code, 0, demoted.output);
      assert.match(
        demoted.output,
        /stopped the announcement still running|removed/,
      );
      assert.ok(
        !(await must(ip("-n", a, "-o", "addr", "show", "dev", "va"))).includes(
          " 198.18.0.77/",
        ),
        "the VIP is gone",
      );
    } finally {
      await ip("netns", "del", a);
      await ip("netns", "del", b);
      await Deno.remove(runDir, { recursive: true });
    }
  },
});
