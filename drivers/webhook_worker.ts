/**
 * Worker of one webhook driver: POSTs each role change as JSON, signed and
 * retried by `WebhookSender` (drivers/_webhook.ts). A `supersede` from the
 * host (a newer event exists) stops the retries of the older post after its
 * in-flight attempt, so the receiver still sees events in order.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `net` = the `host:port` of
 * the configured URL only; everything else denied. A request to any other
 * host fails with `NotCapable` and is not retried.
 */

import {
  describeError,
  isRecord,
  type PostRequest,
  type WebhookInit,
} from "./_protocol.ts";
import type { WorkerScope } from "./_run_process.ts";
import { WebhookSender } from "./_webhook.ts";

const scope = self as unknown as WorkerScope;
const sender = new WebhookSender();

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
    } else if (data.kind === "init") {
      await sender.init(data as unknown as WebhookInit);
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "post") {
      const result = await sender.deliver(data as unknown as PostRequest);
      scope.postMessage({ kind: "post_result", id, result });
    } else if (data.kind === "supersede" || data.kind === "abort") {
      sender.stopRetrying();
      scope.postMessage({ kind: "done", id });
    } else {
      throw new Error(`Unknown message kind ${JSON.stringify(data.kind)}`);
    }
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
