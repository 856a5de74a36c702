/**
 * Host side of one driver or check Worker: request/reply by id with a deadline,
 * and containment. A Worker that throws, stops answering or cannot load is
 * terminated, its pending requests fail with a `WorkerFailure`, and the next
 * request spawns a fresh one. Never lets a Worker error reach the daemon's
 * event loop, never waits without a deadline.
 *
 * A respawn needs the daemon to still hold the permissions the Worker gets
 * (Workers cannot escalate), which is why the daemon keeps `run`.
 */

import type { Logger } from "../log.ts";
import {
  describeError,
  type HostMessage,
  isRecord,
  type WorkerLogLine,
  type WorkerMessage,
} from "../../drivers/_protocol.ts";

/**
 * Requests in flight per Worker; more means a host bug (each driver and
 * check has at most a few in flight, and the shared sandbox serves them all).
 */
const PENDING_REQUESTS_MAX = 64;

/** Longest wait for a fresh Worker to load and say `ready`. */
export const WORKER_READY_TIMEOUT_MS = 10_000;

/** Until a fresh Worker answers, ping it this often (its first `ready` may be lost). */
const READY_PING_INTERVAL_MS = 100;

/** A request that got no reply: the Worker crashed, hung or could not start. */
export class WorkerFailure extends Error {
  override name = "WorkerFailure";
}

/** A request without its `id`; the client assigns one. */
export type RequestMessage = HostMessage extends infer M
  ? M extends { id: number } ? Omit<M, "id"> : never
  : never;

interface Pending {
  resolve(reply: WorkerMessage): void;
  reject(error: WorkerFailure): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Talks to one Worker; replaces it when it fails. */
export class WorkerClient {
  readonly #name: string;
  readonly #spawn: () => Worker;
  readonly #log: Logger;
  #worker: Worker | null = null;
  #ready: Promise<void> | null = null;
  #readyWaiter: { resolve(): void; reject(error: WorkerFailure): void } | null =
    null;
  #readyTimer: ReturnType<typeof setTimeout> | undefined;
  #readyPing: ReturnType<typeof setInterval> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #stopped = false;
  readonly #onLog: ((line: WorkerLogLine) => void) | null;

  constructor(
    name: string,
    spawn: () => Worker,
    log: Logger,
    onLog: ((line: WorkerLogLine) => void) | null = null,
  ) {
    this.#name = name;
    this.#spawn = spawn;
    this.#log = log;
    this.#onLog = onLog;
  }

  /** Spawns the Worker and waits until it has loaded; rejects when it cannot. */
  start(): Promise<void> {
    this.#ensureWorker();
    return this.#ready ??
      Promise.reject(new WorkerFailure("Worker not spawned"));
  }

  /** Sends a request; resolves with its reply, rejects with `WorkerFailure`. */
  request(message: RequestMessage, deadlineMs: number): Promise<WorkerMessage> {
    if (this.#stopped) {
      return Promise.reject(new WorkerFailure(`${this.#name} is stopped`));
    }
    if (this.#pending.size >= PENDING_REQUESTS_MAX) {
      return Promise.reject(
        new WorkerFailure(`${this.#name} has too many requests in flight`),
      );
    }
    let worker: Worker;
    try {
      worker = this.#ensureWorker();
    } catch (error: unknown) {
      return Promise.reject(error);
    }
    const id = this.#nextId++;
    return new Promise<WorkerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(`no reply within ${deadlineMs} ms; restarting it`);
      }, deadlineMs);
      this.#pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...message, id });
    });
  }

  /** Kills what the Worker runs (bounded wait), then terminates it. */
  async stop(abortDeadlineMs: number): Promise<void> {
    if (this.#stopped) return;
    if (this.#worker !== null) {
      try {
        await this.request({ kind: "abort" }, abortDeadlineMs);
      } catch (_error: unknown) {
        // Dead or stuck Worker: terminating it below is all that is left.
      }
    }
    this.#stopped = true;
    this.#fail("stopped", "debug");
  }

  #ensureWorker(): Worker {
    if (this.#worker !== null) return this.#worker;
    let worker: Worker;
    try {
      worker = this.#spawn();
    } catch (error: unknown) {
      const text = describeError(error).text;
      this.#log.error("cannot start worker", {
        worker: this.#name,
        error: text,
      });
      throw new WorkerFailure(`Cannot start ${this.#name}: ${text}`);
    }
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#readyWaiter = { resolve, reject };
    });
    // Only `start()` awaits readiness; an unawaited rejection must not escape.
    this.#ready.catch(() => {});
    this.#readyTimer = setTimeout(() => {
      if (this.#worker === worker) this.#fail("did not load in time");
    }, WORKER_READY_TIMEOUT_MS);
    this.#readyPing = setInterval(() => {
      worker.postMessage({ kind: "ping", id: 0 });
    }, READY_PING_INTERVAL_MS);
    worker.onmessage = (event: MessageEvent) => {
      if (
        isRecord(event.data) && event.data.kind === "log" &&
        this.#onLog !== null
      ) {
        this.#onLog(event.data as unknown as WorkerLogLine);
      } else if (isRecord(event.data) && event.data.kind === "ready") {
        this.#stopReadyTimers();
        this.#readyWaiter?.resolve();
        this.#readyWaiter = null;
      } else {
        this.#onReply(event.data);
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      // Keep the error inside: unhandled, a Worker error would end the daemon.
      event.preventDefault();
      if (this.#worker === worker) this.#fail(`crashed: ${event.message}`);
    };
    worker.onmessageerror = () => {
      this.#log.warn("unreadable message from worker", { worker: this.#name });
    };
    return worker;
  }

  #stopReadyTimers(): void {
    clearTimeout(this.#readyTimer);
    clearInterval(this.#readyPing);
  }

  #onReply(data: unknown): void {
    if (!isRecord(data) || typeof data.id !== "number") {
      this.#log.warn("malformed reply from worker", { worker: this.#name });
      return;
    }
    const pending = this.#pending.get(data.id);
    if (pending === undefined) return;
    this.#pending.delete(data.id);
    clearTimeout(pending.timer);
    pending.resolve(data as unknown as WorkerMessage);
  }

  /** Terminates the Worker and fails every pending request. */
  #fail(reason: string, level: "warn" | "debug" = "warn"): void {
    this.#log[level]("worker terminated", { worker: this.#name, reason });
    this.#worker?.terminate();
    this.#worker = null;
    this.#ready = null;
    this.#stopReadyTimers();
    this.#readyWaiter?.reject(new WorkerFailure(`${this.#name} ${reason}`));
    this.#readyWaiter = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(new WorkerFailure(`${this.#name} ${reason}`));
    }
  }
}
