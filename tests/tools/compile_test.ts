/**
 * tools/compile.ts: the exact `deno compile` arguments, and a real compile of
 * one target that must get through type-checking and the module graph and
 * stop only at downloading the denort base binary (no network here).
 */

import { daemonFlags } from "../../tools/flags.ts";
import assert from "node:assert/strict";
import {
  compileArgs,
  compileTarget,
  TARGETS,
  WORKER_MODULES,
} from "../../tools/compile.ts";
import denoJson from "../../deno.json" with { type: "json" };

Deno.test("compileArgs() bakes in -P=clustd, worker options and every driver worker", () => {
  const args = compileArgs("aarch64-apple-darwin", { include: WORKER_MODULES });
  assert.deepEqual(args, [
    "compile",
    ...daemonFlags(),
    "--unstable-worker-options",
    "--include",
    "drivers/bash_worker.ts",
    "--include",
    "drivers/webhook_worker.ts",
    "--include",
    "drivers/check_worker.ts",
    "--include",
    "drivers/resource_worker.ts",
    "--include",
    "drivers/sandbox_worker.ts",
    "--target",
    "aarch64-apple-darwin",
    "-o",
    "dist/clustd-aarch64-apple-darwin",
    "src/main.ts",
  ]);
});

Deno.test("compileArgs() includes only worker modules that exist", () => {
  const args = compileArgs("x86_64-unknown-linux-gnu");
  for (const module of WORKER_MODULES) {
    let present = true;
    try {
      Deno.statSync(new URL(`../../${module}`, import.meta.url));
    } catch (_error: unknown) {
      present = false;
    }
    assert.equal(args.includes(module), present, module);
  }
});

Deno.test("the compile task and the clustd task share one flag definition", () => {
  assert.match(denoJson.tasks.compile, /tools\/compile.ts/);
  assert.match(denoJson.tasks.clustd, /^deno run .*-P=clustd.* src\/main.ts$/);
  const flags = daemonFlags();
  assert.ok(flags.includes("-P=clustd"));
  const args = compileArgs("x86_64-unknown-linux-gnu");
  for (const flag of flags) assert.ok(args.includes(flag), flag);
  assert.ok("clustd" in denoJson.permissions);
  assert.deepEqual([...TARGETS].sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
});

Deno.test("deno compile type-checks a broken module before any download (control)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clustd-compile-" });
  try {
    await Deno.writeTextFile(
      `${dir}/broken.ts`,
      'const n: number = "text";\nconsole.log(n);\n',
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "-q",
        "--no-config",
        "--target",
        "x86_64-apple-darwin",
        "-o",
        `${dir}/out`,
        `${dir}/broken.ts`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.notEqual(output.code, 0);
    assert.match(stderr, /TS2322/);
    assert.doesNotMatch(stderr, /dl\.deno\.land/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno compile of clustd passes type-checking and the module graph, failing only at the denort download", async () => {
  const started = performance.now();
  const { code, stderr } = await compileTarget("x86_64-apple-darwin");
  const elapsedMs = performance.now() - started;
  if (code === 0) {
    // A machine with access to dl.deno.land (or a cached denort) builds for real.
    await Deno.remove(
      new URL("../../dist/clustd-x86_64-apple-darwin", import.meta.url),
    );
    return;
  }
  assert.match(stderr, /denort|dl\.deno\.land/, stderr);
  assert.doesNotMatch(
    stderr,
    /TS\d{4}|Module not found|Relative import path/,
    stderr,
  );
  assert.ok(elapsedMs < 60_000, `took ${elapsedMs} ms`);
});
