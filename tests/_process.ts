/**
 * What every test harness that starts real processes shares: the argv that
 * runs clustd exactly as `deno task clustd` does (the flags come from
 * tools/flags.ts), a shell line that execs a program with its stderr
 * appended to a file, commands run to completion, logs read, and waits with
 * a deadline that leave no timer behind.
 *
 * Never signals a process: the harness that started one owns it and kills
 * it by PID.
 */
import { daemonFlags } from "../tools/flags.ts";

/** Repository root (where deno.json defines the `clustd` permission set). */
export const ROOT = new URL("../", import.meta.url).pathname;
/** The daemon's entry point, as an absolute path. */
export const MAIN = `${ROOT}src/main.ts`;
/** How often `waitFor()` polls its predicate. */
export const POLL_MS = 20;

/** Output of a command run to completion. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of `runCommand()` and `spawnLogged()`. */
export interface CommandOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise` at most `ms`, leaving no timer behind. */
export async function waitAtMost(
  promise: Promise<unknown>,
  ms: number,
): Promise<"done" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  const done = promise.then(() => "done" as const);
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}

/** Polls `predicate` every POLL_MS until true or `timeoutMs`; returns whether it held. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await sleep(POLL_MS);
  }
  return await predicate();
}

/** The `cwd` and `env` of `options`, leaving out what is unset. */
function placement(options: CommandOptions): CommandOptions {
  return {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  };
}

/** Runs `argv` to completion with no stdin; returns its code and decoded output. */
export async function runCommand(
  argv: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const output = await new Deno.Command(argv[0] ?? "true", {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...placement(options),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** `deno run <the clustd task's flags> src/main.ts ...args`, as an argv. */
export function clustdArgv(args: readonly string[]): string[] {
  return [Deno.execPath(), "run", ...daemonFlags(), MAIN, ...args];
}

/** Runs the real CLI from the repo root (NO_COLOR set); returns its code and output. */
export function runClustd(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  return runCommand(clustdArgv(args), {
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
  });
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * `/bin/sh -c "exec <argv> 2>>log"`: `exec` keeps the PID, so signals reach
 * the program itself, and stderr goes straight to a file (a piped stream
 * would be read late, in large chunks).
 */
export function execLoggedArgv(
  argv: readonly string[],
  logPath: string,
): string[] {
  return [
    "/bin/sh",
    "-c",
    `exec ${argv.map(shellQuote).join(" ")} 2>>${shellQuote(logPath)}`,
  ];
}

/** Starts `argv` on this host with stderr appended to `logPath`; the child's PID is the program's. */
export function spawnLogged(
  argv: readonly string[],
  logPath: string,
  options: CommandOptions = {},
): Deno.ChildProcess {
  const [shell, ...args] = execLoggedArgv(argv, logPath);
  return new Deno.Command(shell ?? "/bin/sh", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    ...placement(options),
  }).spawn();
}

/**
 * SIGCONT then SIGKILL to `child` (so a stopped process dies too) and waits
 * at most `waitMs` for it to exit. Signals only this child, which the caller
 * started; one that already exited is no error.
 */
export async function killChild(
  child: Deno.ChildProcess,
  waitMs: number,
): Promise<void> {
  try {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  } catch (_error: unknown) {
    // It exited on its own in the meantime.
  }
  await waitAtMost(child.status, waitMs);
}

/** A log file's text so far, or "" when it does not exist yet. */
export function readLog(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (_error: unknown) {
    return ""; // Not written yet: the process has not logged a line.
  }
}

/** Sends `signal` to `pid`; a process that already exited is no error. */
export function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (_error: unknown) {
    // Already gone: the kill has nothing left to do.
  }
}

/** 32 random bytes as standard base64 (a cluster secret or a driver token). */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return bytes.toBase64();
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
