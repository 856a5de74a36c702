/**
 * One shared Worker for every built-in driver and check of a node (the
 * footprint choice, README "Driver sandbox"): a Worker costs ~5-6 MB of RSS
 * on its own, so one per driver and check put a node with a vip, a
 * floating_ip, a bash driver and two checks at ~88 MB; one shared Worker
 * keeps it near 60 MB. The fence is unchanged in kind: the Worker's `run`
 * list is the union of the programs the config names and its `net` list the
 * union of the hosts it names, so the daemon still cannot be made to run a
 * program or reach a host the config does not name.
 *
 * Each driver or check talks to it through a `SandboxChannel` that tags its
 * requests with its unit name; the Worker keeps units apart. The Worker ends
 * when the last channel is stopped.
 */

import type { Config } from "../config/types.ts";
import { Logger } from "../log.ts";
import type { WorkerLogLine, WorkerMessage } from "../../drivers/_protocol.ts";
import { type RequestMessage, WorkerClient } from "./_worker_client.ts";
import { sandboxPermissions, spawnSandboxWorker } from "./_workers.ts";

/** What a driver or check needs from its Worker, shared or its own. */
export interface WorkerChannel {
  start(): Promise<void>;
  request(message: RequestMessage, deadlineMs: number): Promise<WorkerMessage>;
  stop(abortDeadlineMs: number): Promise<void>;
}

function forward(log: Logger, line: WorkerLogLine): void {
  const level = ["debug", "info", "warn", "error"].includes(line.level)
    ? line.level
    : "info";
  log[level](String(line.message), line.fields ?? {});
}

/** The shared Worker and its reference count. */
export class Sandbox {
  readonly #client: WorkerClient;
  #channels = 0;

  constructor(permissions: Deno.PermissionOptionsObject) {
    const log = new Logger("sandbox");
    this.#client = new WorkerClient(
      "sandbox",
      () => spawnSandboxWorker(permissions),
      log,
      (line) => forward(new Logger("driver:resource"), line),
    );
  }

  /** The sandbox for a config: `run` and `net` as its drivers and checks name. */
  static forConfig(config: Config, killPath: string | null): Sandbox {
    return new Sandbox(
      sandboxPermissions(config.drivers, config.checks, killPath),
    );
  }

  /** A channel for `unit` (a driver or check name, unique in this sandbox). */
  channel(unit: string): WorkerChannel {
    this.#channels++;
    let stopped = false;
    const client = this.#client;
    return {
      start: () => client.start(),
      request: (message, deadlineMs) =>
        client.request({ ...message, unit } as RequestMessage, deadlineMs),
      stop: async (abortDeadlineMs) => {
        if (stopped) return;
        stopped = true;
        try {
          await client.request(
            { kind: "abort", unit } as RequestMessage,
            abortDeadlineMs,
          );
        } catch (_error: unknown) {
          // A dead Worker has nothing of this unit left to stop.
        }
        this.#channels--;
        if (this.#channels === 0) await client.stop(abortDeadlineMs);
      },
    };
  }
}
