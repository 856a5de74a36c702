/**
 * Runs one system program for a resource driver (`ip`, `arping`, `na6`):
 * directly, never through a shell, with explicit arguments, a cleared
 * environment, cwd `/`, stdin closed, and a kill at the deadline or when the
 * caller aborts. Never throws: every fault is a `ProgramResult`. The Worker's
 * `run` permission (only the programs the config resolved) is the fence.
 */

import { describeError, SCRIPT_PATH } from "../_protocol.ts";

/** Bytes of output kept for logs (the head; these programs say little). */
const OUTPUT_KEEP_BYTES = 2048;

/** Outcome of one program run. */
export interface ProgramResult {
  ok: boolean;
  code: number | null;
  /** stdout then stderr, trimmed, at most `OUTPUT_KEEP_BYTES`. */
  output: string;
  /** Why it could not run or was killed; null when it exited by itself. */
  error: string | null;
  durationMs: number;
}

/** Runs `path args...` to its end, or kills it after `timeoutMs` / on `signal`. */
export async function runProgram(
  path: string,
  args: string[],
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<ProgramResult> {
  const startedMs = performance.now();
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal !== undefined) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  try {
    const out = await new Deno.Command(path, {
      args,
      env: { PATH: SCRIPT_PATH, LC_ALL: "C" },
      clearEnv: true,
      cwd: "/",
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    const killed = signal.aborted;
    return {
      ok: out.success && !killed,
      code: out.signal === null ? out.code : null,
      output: text.trim().slice(0, OUTPUT_KEEP_BYTES),
      error: killed
        ? (options.signal?.aborted === true
          ? "aborted"
          : `timed out after ${options.timeoutMs} ms`)
        : null,
      durationMs: Math.round(performance.now() - startedMs),
    };
  } catch (error: unknown) {
    return {
      ok: false,
      code: null,
      output: "",
      error: describeError(error).text,
      durationMs: Math.round(performance.now() - startedMs),
    };
  }
}
