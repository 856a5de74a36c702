/**
 * Runs one program for a bash driver or a check, inside a sandboxed Worker:
 * cleared environment, cwd `/`, stdin closed, its own process group (session),
 * combined output kept as a bounded tail, and the whole group SIGKILLed at the
 * timeout. Never throws: every fault becomes a `RunResult`.
 *
 * Why a `kill(1)` program: `Deno.kill()` demands unrestricted `run` permission,
 * which would let the Worker start anything. `ChildProcess.kill()` needs no
 * permission but reaches only the leader, so a script's own children would
 * survive. `detached: true` makes the script a session and group leader
 * (setsid), and `kill -KILL -- -PGID`, with `kill` named in the Worker's `run`
 * list, kills the group. `kill` cannot start programs, so the `run` list still
 * limits what can be started to the configured scripts.
 */

import {
  type AbortRequest,
  describeError,
  isRecord,
  OUTPUT_TAIL_BYTES,
  type PingRequest,
  type RunRequest,
  type RunResult,
  SCRIPT_PATH,
} from "./_protocol.ts";

/** After the program exits, wait this long for its output pipes to close. */
const STREAM_DRAIN_GRACE_MS = 200;

/** Longest wait for a `kill(1)` helper to finish. */
const KILL_HELPER_TIMEOUT_MS = 2000;

/** Keeps the last `limitBytes` bytes of a byte stream. */
class OutputTail {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  readonly #limitBytes: number;

  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    while (this.#chunks.length > 1) {
      const first = this.#chunks[0]!;
      if (this.#bytes - first.byteLength < this.#limitBytes) break;
      this.#chunks.shift();
      this.#bytes -= first.byteLength;
    }
  }

  text(): string {
    const joined = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const start = Math.max(0, joined.byteLength - this.#limitBytes);
    return new TextDecoder().decode(joined.subarray(start));
  }
}

/** Reads a stream into `tail` until EOF or `cancel()`. */
function pumpStream(
  stream: ReadableStream<Uint8Array>,
  tail: OutputTail,
): { done: Promise<void>; cancel(): Promise<void> } {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        tail.push(value);
      }
    } catch (_error: unknown) {
      // Cancelled after the drain grace or the pipe broke: the tail so far stays.
    }
  })();
  return {
    done,
    cancel: async () => {
      try {
        await reader.cancel();
      } catch (_error: unknown) {
        // Already closed: nothing left to cancel.
      }
      await done;
    },
  };
}

/** Runs programs and remembers the live ones so `abortAll()` can kill them. */
export class ProcessRunner {
  #live = new Map<
    number,
    { child: Deno.ChildProcess; killPath: string | null }
  >();
  #aborted = new Set<number>();

  /** Runs one request to completion or timeout; never throws. */
  async run(request: RunRequest): Promise<RunResult> {
    const startedMs = performance.now();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(request.path, {
        args: request.args,
        // PATH last: a caller cannot widen where the script finds programs.
        env: { ...request.env, PATH: SCRIPT_PATH },
        clearEnv: true,
        cwd: "/",
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (error: unknown) {
      const { name, text } = describeError(error);
      return {
        ok: false,
        exitCode: null,
        signal: null,
        timedOut: false,
        durationMs: Math.round(performance.now() - startedMs),
        output: "",
        error: text,
        errorName: name,
      };
    }
    const tail = new OutputTail(OUTPUT_TAIL_BYTES);
    const pumps = [
      pumpStream(child.stdout, tail),
      pumpStream(child.stderr, tail),
    ];
    this.#live.set(request.id, { child, killPath: request.killPath });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void killGroup(child, request.killPath);
    }, request.timeoutMs);
    const status = await child.status;
    clearTimeout(timer);
    this.#live.delete(request.id);
    const aborted = this.#aborted.delete(request.id);
    await drain(pumps);
    const durationMs = Math.round(performance.now() - startedMs);
    return {
      ok: status.success && !timedOut && !aborted,
      exitCode: status.signal === null ? status.code : null,
      signal: status.signal,
      timedOut,
      durationMs,
      output: tail.text(),
      error: aborted ? "Aborted: the daemon stopped the driver" : null,
      errorName: aborted ? "Aborted" : null,
    };
  }

  /** Kills the process group of every live run (daemon shutdown). */
  async abortAll(): Promise<void> {
    const kills: Promise<void>[] = [];
    for (const [id, { child, killPath }] of this.#live) {
      this.#aborted.add(id);
      kills.push(killGroup(child, killPath));
    }
    await Promise.all(kills);
  }
}

/** Waits for both pipes to close, but only briefly: a daemonized child may hold them. */
async function drain(
  pumps: { done: Promise<void>; cancel(): Promise<void> }[],
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<"grace">((resolve) => {
    timer = setTimeout(() => resolve("grace"), STREAM_DRAIN_GRACE_MS);
  });
  const outcome = await Promise.race([
    Promise.all(pumps.map((pump) => pump.done)),
    grace,
  ]);
  clearTimeout(timer);
  if (outcome === "grace") {
    await Promise.all(pumps.map((pump) => pump.cancel()));
  }
}

/** SIGKILLs the child's whole process group, then the leader itself. */
async function killGroup(
  child: Deno.ChildProcess,
  killPath: string | null,
): Promise<void> {
  if (killPath !== null) {
    try {
      // The group id is the leader's pid: `detached` made it a session leader.
      await new Deno.Command(killPath, {
        args: ["-KILL", "--", `-${child.pid}`],
        env: { PATH: SCRIPT_PATH },
        clearEnv: true,
        cwd: "/",
        stdin: "null",
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(KILL_HELPER_TIMEOUT_MS),
      }).output();
    } catch (_error: unknown) {
      // No kill helper (or it hung): fall back to the leader below.
    }
  }
  try {
    child.kill("SIGKILL");
  } catch (_error: unknown) {
    // The leader already exited (the group kill reached it first).
  }
}

/** The part of a Worker's global scope the workers use (typed without the worker lib). */
export interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** Serves `run` and `abort` requests on a Worker scope; bad messages get an `error` reply. */
export function serveRunRequests(scope: WorkerScope): void {
  const runner = new ProcessRunner();
  scope.onmessage = (event: MessageEvent) => {
    const message = parseRunMessage(event.data);
    if (typeof message === "string") {
      scope.postMessage({ kind: "error", id: messageId(event.data), message });
      return;
    }
    if (message.kind === "ping") {
      scope.postMessage({ kind: "ready" });
      return;
    }
    if (message.kind === "abort") {
      void runner.abortAll().then(() =>
        scope.postMessage({ kind: "done", id: message.id })
      );
      return;
    }
    void runner.run(message).then((result) =>
      scope.postMessage({ kind: "run_result", id: message.id, result })
    );
  };
  scope.postMessage({ kind: "ready" });
}

function messageId(data: unknown): number | null {
  return isRecord(data) && typeof data.id === "number" ? data.id : null;
}

/** Validates a host message; returns the reason when it is not a run/abort/ping request. */
export function parseRunMessage(
  data: unknown,
): RunRequest | AbortRequest | PingRequest | string {
  if (!isRecord(data) || typeof data.id !== "number") {
    return "Message must be an object with a numeric id";
  }
  if (data.kind === "abort") return { kind: "abort", id: data.id };
  if (data.kind === "ping") return { kind: "ping", id: data.id };
  if (data.kind !== "run") {
    return `Unknown message kind ${JSON.stringify(data.kind)}`;
  }
  const { path, args, env, timeoutMs, killPath } = data;
  if (typeof path !== "string" || path === "") return "Run needs a path";
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    return "Run args must be strings";
  }
  if (
    !isRecord(env) || !Object.values(env).every((v) => typeof v === "string")
  ) {
    return "Run env must map names to strings";
  }
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
    return "Run timeoutMs must be a positive number";
  }
  if (killPath !== null && typeof killPath !== "string") {
    return "Run killPath must be a string or null";
  }
  return {
    kind: "run",
    id: data.id,
    path,
    args: args as string[],
    env: env as Record<string, string>,
    timeoutMs,
    killPath,
  };
}
