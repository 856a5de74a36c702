/**
 * Messages between the daemon (host) and the built-in driver and check Workers,
 * plus the few constants both sides must agree on (webhook backoff, the PATH a
 * script sees). Types and pure functions only: nothing here touches the world,
 * and nothing here imports from `src/` (drivers never depend on the daemon).
 *
 * Every request carries an `id`; the Worker answers each with exactly one reply
 * carrying the same `id`. A Worker announces `{kind: "ready"}` once loaded and
 * answers every `ping` with `ready` too: under `deno test` a message a Worker
 * posts while its module is still being evaluated is sometimes never
 * delivered, so the host pings until it hears back.
 */

/** The only PATH a hook script or check command sees (the environment is cleared). */
export const SCRIPT_PATH =
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Bytes of combined stdout+stderr kept per run (the tail; older output is dropped). */
export const OUTPUT_TAIL_BYTES = 4096;

/** First webhook retry waits this long; each next one doubles it. */
export const WEBHOOK_BACKOFF_BASE_MS = 250;

/** Cap of one webhook backoff wait. */
export const WEBHOOK_BACKOFF_MAX_MS = 30_000;

/** Role change as drivers see it (snake_case: it is also the webhook body). */
export interface EventFields {
  event: "promote" | "demote";
  /** Why (README's reasons table): `start`, `elected`, `quorum_lost`, ... */
  reason: string;
  role: "master" | "backup";
  term: number;
  node_id: string;
  master_id: string | null;
}

/** Host → bash/check Worker: run one program, kill its process group at the timeout. */
export interface RunRequest {
  kind: "run";
  id: number;
  /** Absolute path; the Worker's `run` permission decides whether it may start. */
  path: string;
  args: string[];
  /** Added to the cleared environment; `PATH` is always `SCRIPT_PATH`. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Absolute path of a `kill(1)` program for group kills; null: leader only. */
  killPath: string | null;
}

/** Host → Worker, until the first answer: are you loaded? The Worker answers `ready`. */
export interface PingRequest {
  kind: "ping";
  id: number;
}

/** Host → Worker: kill every running process group / stop retrying, then reply. */
export interface AbortRequest {
  kind: "abort";
  id: number;
}

/** Host → webhook Worker, once before any post: where and how to deliver. */
export interface WebhookInit {
  kind: "init";
  id: number;
  url: string;
  /** HMAC-SHA-256 key: the driver's own secret or the key derived from the cluster secret. */
  key: Uint8Array;
  timeoutMs: number;
  retries: number;
}

/** Host → webhook Worker: deliver one event (with retries). */
export interface PostRequest {
  kind: "post";
  id: number;
  fields: EventFields;
  /** Wall-clock time of the role change, ISO 8601; part of the signed body. */
  time: string;
}

/** Host → webhook Worker: a newer event exists; stop retrying the posts in flight. */
export interface SupersedeRequest {
  kind: "supersede";
  id: number;
  /** Resource Worker: the unit whose waits end early. */
  unit?: string;
}

/** Host → resource Worker: create one vip/floating_ip unit (idempotent per unit). */
export interface ResourceInit {
  kind: "resource_init";
  id: number;
  /** Driver name (`vip#0`), unique per Worker. */
  unit: string;
  /** The unit's validated config (`VipUnitConfig` / `FloatingIpUnitConfig`). */
  config: Record<string, unknown>;
  /** `Fence` memory: the daemon's role, read before every call. */
  fence: SharedArrayBuffer;
  /** `ResourceStats` memory: counters the daemon reads for /metrics. */
  stats: SharedArrayBuffer;
}

/** Host → resource Worker: apply one role change to one unit. */
export interface ResourceApply {
  kind: "resource_apply";
  id: number;
  unit: string;
  event: "promote" | "demote";
  term: number;
}

/** Every message a host sends. */
export type HostMessage =
  | PingRequest
  | RunRequest
  | AbortRequest
  | WebhookInit
  | PostRequest
  | SupersedeRequest
  | ResourceInit
  | ResourceApply;

/** Outcome of one program run. */
export interface RunResult {
  /** Exit code 0 within the timeout. */
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Tail of combined stdout and stderr, at most `OUTPUT_TAIL_BYTES` bytes. */
  output: string;
  /** Why the program could not start (e.g. `NotCapable: Requires run access`). */
  error: string | null;
  /** Error class name when it could not start (`NotCapable`, `NotFound`...). */
  errorName: string | null;
}

/** Outcome of one webhook delivery (all attempts). */
export interface PostResult {
  /** A 2xx response arrived. */
  ok: boolean;
  attempts: number;
  /** HTTP status of the last response, null when none arrived. */
  status: number | null;
  /** Retries stopped because a newer event arrived. */
  superseded: boolean;
  durationMs: number;
  /** Last error (network, timeout, permission), null when ok. */
  error: string | null;
  errorName: string | null;
}

/** Every message a Worker sends. */
export type WorkerMessage =
  | { kind: "ready" }
  | { kind: "run_result"; id: number; result: RunResult }
  | { kind: "post_result"; id: number; result: PostResult }
  | { kind: "done"; id: number }
  | {
    kind: "resource_result";
    id: number;
    ok: boolean;
    detail: string;
    durationMs: number;
  }
  | { kind: "error"; id: number | null; message: string };

/** A log line a Worker sends on its own (no `id`); the host logs it. */
export interface WorkerLogLine {
  kind: "log";
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, string | number | boolean | null>;
}

/** Wait before retry number `retry` (1-based): capped exponential backoff. */
export function webhookBackoffMs(retry: number): number {
  const exponent = Math.min(Math.max(retry - 1, 0), 30);
  return Math.min(
    WEBHOOK_BACKOFF_BASE_MS * 2 ** exponent,
    WEBHOOK_BACKOFF_MAX_MS,
  );
}

/** Longest a delivery can take: every attempt times out, every backoff is waited. */
export function webhookWorstCaseMs(timeoutMs: number, retries: number): number {
  let total = timeoutMs * (retries + 1);
  for (let retry = 1; retry <= retries; retry++) {
    total += webhookBackoffMs(retry);
  }
  return total;
}

/** Describes a thrown value as `Name: message` without a stack trace. */
export function describeError(error: unknown): { name: string; text: string } {
  if (error instanceof Error) {
    return { name: error.name, text: `${error.name}: ${error.message}` };
  }
  return { name: "Error", text: String(error) };
}

/** True when `value` is a plain object (messages arrive untyped). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
