/** Helpers for CLI tests: run the real CLI as a subprocess, or main() in-process. */

import { daemonFlags } from "../../tools/flags.ts";
import { main } from "../../src/main.ts";

/** Repository root (where deno.json defines the `clustd` permission set). */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Output of one CLI run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run <the clustd task's flags> src/main.ts ...args` from the repo root. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...daemonFlags(), "src/main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs main(args) in this process, capturing console output. */
export async function runMain(args: string[]): Promise<RunResult> {
  const saved = { log: console.log, error: console.error };
  let stdout = "";
  let stderr = "";
  console.log = (...parts: unknown[]) => {
    stdout += parts.join(" ") + "\n";
  };
  console.error = (...parts: unknown[]) => {
    stderr += parts.join(" ") + "\n";
  };
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    console.log = saved.log;
    console.error = saved.error;
  }
}

/** A temporary directory removed after `fn`. */
export async function withTempDir(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "clustd-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
