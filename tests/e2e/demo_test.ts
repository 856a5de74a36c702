/** `deno task demo` as a new user runs it (fast timings): exits 0 and reports a failover. */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task demo elects, kills the master and reports the failover time", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo", "--heartbeat-ms", "100"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, text + new TextDecoder().decode(output.stderr));
  assert.match(text, /kill -9 web\d/);
  const failover =
    /failover time \(SIGKILL -> new master's promote hook\): (\d+) ms/.exec(
      text,
    );
  assert.ok(failover !== null, text);
  assert.ok(Number(failover[1]) > 0);
  // The demo cleans up after itself: none of its node processes survive.
  const left = await new Deno.Command("pgrep", {
    args: ["-f", "clustd-e2e-.*web1.yml"],
  }).output();
  assert.equal(left.code, 1, "a demo node is still running");
});
