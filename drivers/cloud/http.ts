/**
 * The one way the cloud clients talk HTTP: every attempt bounded by a
 * timeout, retried after network errors, timeouts, 429 and 5xx with capped
 * exponential backoff and full jitter, a 429/503 `Retry-After` honoured (up
 * to a cap), latency and errors counted, and, for calls made as master, the
 * fence checked right before each attempt leaves: once the term is over,
 * nothing more is sent.
 *
 * No library: `fetch` and `AbortSignal.timeout` are built in; the policy
 * (fence, Retry-After, counters) is what this file adds, in ~150 lines.
 */

import type { Fence, ResourceStats } from "../resource/shared.ts";
import type { LogSink, Sleeper } from "../resource/unit.ts";
import { describeError } from "../_protocol.ts";

/** First retry waits up to this long; each next one doubles it. */
export const API_BACKOFF_BASE_MS = 200;

/** Cap of one backoff wait. */
export const API_BACKOFF_MAX_MS = 5000;

/** Longest `Retry-After` honoured; a longer one is cut to this. */
export const RETRY_AFTER_MAX_MS = 30_000;

/** Bytes of a response body read at most (answers here are small JSON/XML). */
const RESPONSE_BYTES_MAX = 1 << 20;

/** One HTTP request. */
export interface ApiRequest {
  method: "GET" | "POST" | "PUT";
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A response with its body read. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** The call was not sent: this node is no longer master in its term. */
export class FencedError extends Error {
  override name = "FencedError";
}

/** The provider answered with an error, or never answered, within the retries. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

/** Settings of an `ApiClient`. */
export interface ApiClientOptions {
  driver: string;
  timeoutMs: number;
  retries: number;
  fence: Fence;
  stats: ResourceStats;
  log: LogSink;
  sleeper: Sleeper;
}

/** Options of one call. */
export interface CallOptions {
  /** What the call does, for logs (`assign`, `read holder`). */
  label: string;
  /** Send only while master in this term; absent for harmless reads (metadata). */
  term?: number;
  /** Rebuilds the request per attempt (fresh signature and date). */
  prepare?: (request: ApiRequest) => Promise<ApiRequest>;
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Wait before retry `retry` (1-based): full jitter over a capped exponential. */
export function backoffMs(retry: number, random = Math.random): number {
  const ceiling = Math.min(
    API_BACKOFF_BASE_MS * 2 ** Math.min(retry - 1, 20),
    API_BACKOFF_MAX_MS,
  );
  return Math.round(ceiling / 2 + random() * ceiling / 2);
}

/** `Retry-After` in ms (seconds or an HTTP date), capped; null when absent or unreadable. */
export function retryAfterMs(
  header: string | null,
  nowMs = Date.now(),
): number | null {
  if (header === null) return null;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds)
    ? seconds * 1000
    : Date.parse(header) - nowMs;
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(0, ms), RETRY_AFTER_MAX_MS);
}

/** HTTP with retries, fencing and counters. */
export class ApiClient {
  readonly #o: ApiClientOptions;

  constructor(options: ApiClientOptions) {
    this.#o = options;
  }

  /** Sends `request` until a non-retryable answer; throws `ApiError` or `FencedError`. */
  async call(request: ApiRequest, options: CallOptions): Promise<ApiResponse> {
    const o = this.#o;
    let last = "no attempt";
    let lastStatus: number | null = null;
    let waitMs = 0;
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      if (attempt > 0) {
        o.stats.add("api_retries");
        await o.sleeper.sleep(Math.max(backoffMs(attempt), waitMs));
        waitMs = 0;
      }
      if (options.term !== undefined && !o.fence.holds(options.term)) {
        o.stats.add("fenced_calls");
        o.log("info", "provider call not sent: no longer master in its term", {
          driver: o.driver,
          call: options.label,
          term: options.term,
        });
        throw new FencedError(`${options.label}: term ${options.term} is over`);
      }
      const prepared = options.prepare === undefined
        ? request
        : await options.prepare(request);
      const outcome = await this.#attempt(prepared, options.label);
      if (typeof outcome === "string") {
        last = outcome;
        lastStatus = null;
        continue;
      }
      if (outcome.status < 400) return outcome;
      last = `HTTP ${outcome.status}: ${outcome.text.slice(0, 200)}`;
      lastStatus = outcome.status;
      if (!retryable(outcome.status)) break;
      waitMs = retryAfterMs(outcome.headers.get("retry-after")) ?? 0;
    }
    throw new ApiError(`${options.label} failed: ${last}`, lastStatus);
  }

  async #attempt(
    request: ApiRequest,
    label: string,
  ): Promise<ApiResponse | string> {
    const o = this.#o;
    const startedMs = performance.now();
    o.stats.add("api_requests");
    const fields = {
      driver: o.driver,
      call: label,
      method: request.method,
      url: request.url,
    };
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        redirect: "manual",
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      const text = await readCapped(response);
      const latencyMs = Math.round(performance.now() - startedMs);
      o.stats.add("api_latency_ms_sum", latencyMs);
      if (response.status === 429) o.stats.add("api_rate_limited");
      if (response.status >= 400) {
        o.stats.add("api_errors");
        o.log("warn", "provider answered with an error", {
          ...fields,
          status: response.status,
          latency_ms: latencyMs,
          retry_after: response.headers.get("retry-after"),
        });
      } else {
        o.log("debug", "provider call", {
          ...fields,
          status: response.status,
          latency_ms: latencyMs,
        });
      }
      return { status: response.status, headers: response.headers, text };
    } catch (error: unknown) {
      const latencyMs = Math.round(performance.now() - startedMs);
      o.stats.add("api_latency_ms_sum", latencyMs);
      o.stats.add("api_errors");
      const text = describeError(error).text;
      o.log("warn", "provider call failed", {
        ...fields,
        error: text,
        latency_ms: latencyMs,
      });
      return text;
    }
  }
}

async function readCapped(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < RESPONSE_BYTES_MAX) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, RESPONSE_BYTES_MAX));
}
