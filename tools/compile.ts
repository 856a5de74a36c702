/**
 * `deno task compile [--target T]`: builds one self-contained binary per
 * target into dist/ with `deno compile`, using the same permission set
 * (`-P=clustd` from deno.json) as `deno task clustd`, the Worker options
 * flag, and the driver Worker modules passed with --include (deno compile
 * bundles a Worker only when it is referenced statically or included).
 *
 * `deno compile` downloads the `denort` base binary of each target from
 * dl.deno.land (cached afterwards); without that access it stops there, after
 * type-checking and building the module graph. Never deletes anything.
 */

import { parseArgs } from "node:util";
import { daemonFlags, ENTRY } from "./flags.ts";

/** Targets `deno task compile` builds by default. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** Worker modules the daemon starts by URL; each must be --included. */
export const WORKER_MODULES = [
  "drivers/bash_worker.ts",
  "drivers/webhook_worker.ts",
  "drivers/check_worker.ts",
  "drivers/resource_worker.ts",
  "drivers/sandbox_worker.ts",
] as const;

/** The entry point compiled into every binary. */
export { ENTRY };

/** Output path of a target's binary (deno compile adds .exe on Windows). */
export function outputPath(target: string): string {
  return `dist/clustd-${target}`;
}

const ROOT = new URL("../", import.meta.url);

function exists(path: string): boolean {
  try {
    Deno.statSync(new URL(path, ROOT));
    return true;
  } catch (_error: unknown) {
    // Not written yet (or unreadable): it is not included.
    return false;
  }
}

/**
 * The `deno` arguments that build `target`. `include` defaults to the worker
 * modules that exist in this checkout.
 */
export function compileArgs(
  target: string,
  options: { include?: readonly string[] } = {},
): string[] {
  const include = options.include ?? WORKER_MODULES.filter(exists);
  return [
    "compile",
    ...daemonFlags(),
    "--unstable-worker-options",
    ...include.flatMap((module) => ["--include", module]),
    "--target",
    target,
    "-o",
    outputPath(target),
    ENTRY,
  ];
}

/** Runs `deno compile` for one target; resolves to its exit code and stderr. */
export async function compileTarget(
  target: string,
): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target),
    cwd: ROOT,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function main(args: string[]): Promise<number> {
  let targets: string[];
  try {
    const { values } = parseArgs({
      args,
      options: { target: { type: "string", multiple: true } },
      strict: true,
    });
    targets = values.target ?? [...TARGETS];
  } catch (error: unknown) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    console.error("Usage: deno task compile [--target TARGET]...");
    return 2;
  }
  const unknown = targets.filter((t) =>
    !(TARGETS as readonly string[]).includes(t)
  );
  if (unknown.length > 0) {
    console.error(
      `error: unknown target ${JSON.stringify(unknown[0])}; use one of ${
        TARGETS.join(", ")
      }`,
    );
    return 2;
  }
  let failed = 0;
  for (const target of targets) {
    console.error(`compile: ${outputPath(target)}`);
    const { code, stderr } = await compileTarget(target);
    if (code === 0) continue;
    failed += 1;
    console.error(stderr.trimEnd());
    if (/denort|dl\.deno\.land/.test(stderr)) {
      console.error(
        `compile: ${target}: type-checking and the module graph passed; the denort base binary could not be downloaded (needs https://dl.deno.land, or a cached copy)`,
      );
    }
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
