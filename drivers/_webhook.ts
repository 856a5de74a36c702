/**
 * Delivery of one webhook driver's posts: JSON signed with
 * `X-Clustd-Signature: sha256=<hex HMAC-SHA-256 of the exact body>`, retried
 * with capped exponential backoff up to `retries` times, each attempt bounded
 * by `timeoutMs`; `stopRetrying()` (a newer event exists) ends the retries of
 * the posts in flight after their current attempt. Redirects are not
 * followed. Used by the webhook Worker and by the shared sandbox Worker (one
 * sender per driver); the Worker's `net` permission is the fence.
 */

import {
  describeError,
  type PostRequest,
  type PostResult,
  webhookBackoffMs,
  type WebhookInit,
} from "./_protocol.ts";

const encoder = new TextEncoder();

/** Delivery settings from the host's `init`. */
interface Target {
  url: string;
  key: CryptoKey;
  timeoutMs: number;
  retries: number;
}

/** One webhook driver's delivery state. */
export class WebhookSender {
  #target: Target | null = null;
  /** Posts still retrying: id → wakes its backoff wait early. */
  readonly #active = new Map<number, () => void>();
  readonly #superseded = new Set<number>();

  /** Imports the key and remembers where to deliver. */
  async init(message: WebhookInit): Promise<void> {
    const key = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(message.key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    this.#target = {
      url: message.url,
      key,
      timeoutMs: message.timeoutMs,
      retries: message.retries,
    };
  }

  /** Delivers one event with retries; throws only before `init`. */
  async deliver(post: PostRequest): Promise<PostResult> {
    const to = this.#target;
    if (to === null) throw new Error("Post before init");
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
    this.#active.set(post.id, () => {});
    for (let number = 1; number <= to.retries + 1; number++) {
      if (number > 1) {
        await this.#backoff(post.id, webhookBackoffMs(number - 1));
      }
      if (this.#superseded.has(post.id)) {
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
    this.#active.delete(post.id);
    this.#superseded.delete(post.id);
    result.durationMs = Math.round(performance.now() - startedMs);
    return result;
  }

  /** Stops retrying every post in flight (a newer event, or shutdown). */
  stopRetrying(): void {
    for (const [postId, wake] of [...this.#active]) {
      this.#superseded.add(postId);
      wake();
    }
  }

  /** Sleeps `ms`, or less when the post is superseded meanwhile. */
  #backoff(postId: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#active.set(postId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
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
