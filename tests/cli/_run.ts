/** Helpers for CLI tests: run the real CLI as a subprocess, or main() in-process. */

import { main } from "../../src/main.ts";
import { type CommandResult, ROOT, runClustd } from "../_process.ts";

export { ROOT };

/** Output of one CLI run. */
export type RunResult = CommandResult;

/** Runs `deno run <the clustd task's flags> src/main.ts ...args` from the repo root. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return runClustd(args, env);
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
