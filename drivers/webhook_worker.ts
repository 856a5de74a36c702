/**
 * Worker of one webhook driver: POSTs each role change as JSON, signed with
 * `X-Clustd-Signature: sha256=<hex HMAC-SHA-256 of the exact body>`, retrying
 * with capped exponential backoff up to `retries` times, each attempt bounded
 * by `timeoutMs`. A `supersede` from the host (a newer event exists) stops the
 * retries of the older post after its in-flight attempt, so the receiver still
 * sees events in order. Redirects are not followed.
 *
 * Permissions (built by `src/daemon/_workers.ts`): `net` = the `host:port` of
 * the configured URL only; everything else denied. A request to any other
 * host fails with `NotCapable` and is not retried.
 */

import {
  describeError,
  isRecord,
  type PostRequest,
  type PostResult,
  webhookBackoffMs,
  type WebhookInit,
} from "./_protocol.ts";
import type { WorkerScope } from "./_run_process.ts";

const scope = self as unknown as WorkerScope;
const encoder = new TextEncoder();

/** Delivery settings from the host's `init`. */
interface Target {
  url: string;
  key: CryptoKey;
  timeoutMs: number;
  retries: number;
}

let target: Target | null = null;
/** Posts still retrying: id → wakes its backoff wait early. */
const active = new Map<number, () => void>();
const superseded = new Set<number>();

/** Sleeps `ms`, or less when the post is superseded meanwhile. */
function backoff(postId: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    active.set(postId, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One HTTP attempt: the status, or throws the network/timeout/permission error. */
async function attempt(
  to: Target,
  post: PostRequest,
  body: string,
  signature: string,
): Promise<number> {
  const response = await fetch(to.url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "User-Agent": "clustd",
      "X-Clustd-Event": post.fields.event,
      "X-Clustd-Term": String(post.fields.term),
      "X-Clustd-Signature": `sha256=${signature}`,
    },
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(to.timeoutMs),
  });
  await response.body?.cancel();
  return response.status;
}

async function deliver(to: Target, post: PostRequest): Promise<PostResult> {
  const startedMs = performance.now();
  const body = JSON.stringify({ ...post.fields, time: post.time });
  const mac = await crypto.subtle.sign("HMAC", to.key, encoder.encode(body));
  const signature = new Uint8Array(mac).toHex();
  const result: PostResult = {
    ok: false,
    attempts: 0,
    status: null,
    superseded: false,
    durationMs: 0,
    error: null,
    errorName: null,
  };
  active.set(post.id, () => {});
  for (let number = 1; number <= to.retries + 1; number++) {
    if (number > 1) await backoff(post.id, webhookBackoffMs(number - 1));
    if (superseded.has(post.id)) {
      result.superseded = true;
      break;
    }
    result.attempts = number;
    try {
      result.status = await attempt(to, post, body, signature);
      if (result.status >= 200 && result.status < 300) {
        result.ok = true;
        result.error = result.errorName = null;
        break;
      }
      result.error = `HTTP ${result.status}`;
      result.errorName = "HttpStatus";
    } catch (error: unknown) {
      const { name, text } = describeError(error);
      result.error = text;
      result.errorName = name;
      // Permissions never change at run time: retrying a denied host is pointless.
      if (name === "NotCapable" || name === "PermissionDenied") break;
    }
  }
  active.delete(post.id);
  superseded.delete(post.id);
  result.durationMs = Math.round(performance.now() - startedMs);
  return result;
}

async function init(message: WebhookInit): Promise<void> {
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(message.key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  target = {
    url: message.url,
    key,
    timeoutMs: message.timeoutMs,
    retries: message.retries,
  };
}

function stopRetrying(postId: number): void {
  const wake = active.get(postId);
  if (wake === undefined) return;
  superseded.add(postId);
  wake();
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
    } else if (data.kind === "init") {
      await init(data as unknown as WebhookInit);
      scope.postMessage({ kind: "done", id });
    } else if (data.kind === "post") {
      if (target === null) throw new Error("Post before init");
      const result = await deliver(target, data as unknown as PostRequest);
      scope.postMessage({ kind: "post_result", id, result });
    } else if (data.kind === "supersede" || data.kind === "abort") {
      for (const postId of [...active.keys()]) stopRetrying(postId);
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
