import assert from "node:assert/strict";

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
