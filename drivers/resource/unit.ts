/**
 * What the resource Worker needs from one vip or floating_ip driver, and the
 * small helpers both share: a log callback (lines go to the daemon, which
 * owns the log format), an interruptible sleep, and a serial lock so a
 * reconcile pass never interleaves with a role change.
 */

/** A log line the Worker hands to the daemon. */
export type LogSink = (
  level: "debug" | "info" | "warn" | "error",
  message: string,
  fields: Record<string, string | number | boolean | null>,
) => void;

/** Outcome of applying one role change. */
export interface ApplyResult {
  ok: boolean;
  /** One line for the daemon's log. */
  detail: string;
}

/** One resource driver inside the Worker. */
export interface ResourceUnit {
  /** Makes the world match the role; resolves when done or given up. */
  apply(event: "promote" | "demote", term: number): Promise<ApplyResult>;
  /** A newer role exists: cut waits short (the fence stops the calls). */
  supersede(): void;
  /** Stops timers and running programs (daemon shutdown, reload). */
  stop(): Promise<void>;
}

/** Sleeps that `wakeAll()` ends early. */
export class Sleeper {
  #wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      this.#wakers.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

/** Runs tasks one at a time, in call order. */
export class SerialLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(task, task);
    this.#tail = next.catch(() => {});
    return next;
  }
}

/** A repeating timer whose callback never overlaps itself. */
export class Ticker {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(
    readonly intervalMs: number,
    readonly tick: () => Promise<void>,
  ) {}

  start(firstDelayMs = this.intervalMs): void {
    this.#stopped = false;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), firstDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.tick();
    } catch (_error: unknown) {
      // Ticks log their own faults; one that escapes must not stop the timer.
    } finally {
      if (!this.#stopped) {
        this.#timer = setTimeout(() => this.#run(), this.intervalMs);
      }
    }
  }
}
