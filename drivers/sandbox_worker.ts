/**
 * The one Worker that runs every built-in driver and check of a node when
 * the daemon shares it (the default): bash scripts and check commands
 * (`run`), webhook posts (`init`, `post`), and the vip and floating_ip units
 * (`resource_*`). Every request names its `unit` (the driver or check), and
 * each unit has its own process runner, webhook sender or resource unit, so
 * units never see each other's state; `abort` with a unit stops only that
 * unit, without one stops all.
 *
 * Permissions (built by `src/daemon/_workers.ts`, `sandboxPermissions`):
 * `run` = the union of the programs the config names (scripts, check
 * commands, the `kill` helper, `ip`, `arping`/`na6`); `net` = the union of
 * the hosts it names (webhook URLs, provider API and metadata URLs);
 * everything else denied. Why one Worker: see the README's footprint notes.
 */

import {
  describeError,
  isRecord,
  type PostRequest,
  type WebhookInit,
} from "./_protocol.ts";
import {
  parseRunMessage,
  ProcessRunner,
  type WorkerScope,
} from "./_run_process.ts";
import { WebhookSender } from "./_webhook.ts";
import { ResourceUnits } from "./resource/units.ts";

const scope = self as unknown as WorkerScope;

/** Most units (drivers + checks) one sandbox serves. */
const UNITS_MAX = 256;

const runners = new Map<string, ProcessRunner>();
const senders = new Map<string, WebhookSender>();
const resources = new ResourceUnits((level, message, fields) => {
  scope.postMessage({ kind: "log", level, message, fields });
});

function slot<T>(map: Map<string, T>, unit: string, make: () => T): T {
  let value = map.get(unit);
  if (value === undefined) {
    if (runners.size + senders.size >= UNITS_MAX) {
      throw new Error("too many units in one sandbox");
    }
    value = make();
    map.set(unit, value);
  }
  return value;
}

async function abort(unit: string | null): Promise<void> {
  const names = unit === null
    ? [...new Set([...runners.keys(), ...senders.keys()])]
    : [unit];
  for (const name of names) senders.get(name)?.stopRetrying();
  await Promise.all(names.map((name) => runners.get(name)?.abortAll()));
  if (unit === null) await resources.stop();
  else if (resources.has(unit)) await resources.stop(unit);
}

/** Answers one request of `unit`. */
async function serve(
  unit: string,
  id: number,
  data: Record<string, unknown>,
): Promise<unknown> {
  switch (data.kind) {
    case "run": {
      const request = parseRunMessage(data);
      if (typeof request === "string" || request.kind !== "run") {
        throw new Error(typeof request === "string" ? request : "bad run");
      }
      const runner = slot(runners, unit, () => new ProcessRunner());
      return { kind: "run_result", id, result: await runner.run(request) };
    }
    case "init":
      await slot(senders, unit, () => new WebhookSender())
        .init(data as unknown as WebhookInit);
      return { kind: "done", id };
    case "post": {
      const sender = senders.get(unit);
      if (sender === undefined) throw new Error("Post before init");
      const result = await sender.deliver(data as unknown as PostRequest);
      return { kind: "post_result", id, result };
    }
    case "supersede":
      if (resources.has(unit)) resources.supersede(unit);
      else senders.get(unit)?.stopRetrying();
      return { kind: "done", id };
    case "resource_init":
      resources.init(data);
      return { kind: "done", id };
    case "resource_apply":
      return { kind: "resource_result", id, ...await resources.apply(data) };
    default:
      throw new Error(`Unknown message kind ${JSON.stringify(data.kind)}`);
  }
}

/** Validates and dispatches one host message; never throws. */
async function handle(data: unknown): Promise<void> {
  const id = isRecord(data) && typeof data.id === "number" ? data.id : null;
  if (!isRecord(data) || id === null) {
    scope.postMessage({
      kind: "error",
      id,
      message: "Message needs a numeric id",
    });
    return;
  }
  try {
    if (data.kind === "ping") {
      scope.postMessage({ kind: "ready" });
      return;
    }
    const unit = typeof data.unit === "string" ? data.unit : null;
    if (data.kind === "abort") {
      await abort(unit);
      scope.postMessage({ kind: "done", id });
      return;
    }
    if (unit === null) throw new Error("Request needs a unit");
    scope.postMessage(await serve(unit, id, data));
  } catch (error: unknown) {
    scope.postMessage({
      kind: "error",
      id,
      message: describeError(error).text,
    });
  }
}

scope.onmessage = (event: MessageEvent) => {
  void handle(event.data);
};
scope.postMessage({ kind: "ready" });
