/**
 * The external-driver SDK (the original clustd's DriverMachine idea): a
 * program of your own connects to its local clustd daemon with a unique
 * driver id and that id's key, and is told every promote and demote of
 * that node, in order, one at a time. It owns the driver side of the
 * `driver` channel: hello, welcome, events, acks, and reconnecting with
 * capped exponential backoff and jitter. It never speaks for a node: the
 * driver key opens its own driver id only, never a peer or control
 * channel, and this module imports only the transport (`src/mesh/`), never
 * the election or daemon.
 *
 * Delivery rules, the same as the built-in drivers (DESIGN §4):
 * - `onEvent` runs for one event at a time; the next waits for its promise.
 * - Events that arrive while a handler runs collapse to the latest: after
 *   promote (running), demote, promote in the same term nothing more runs;
 *   a promote in a newer term runs again (the term is a fencing token).
 * - Every handled event is acknowledged to the daemon with its outcome.
 * - On every (re)connect the daemon restates the node's current role, so a
 *   driver that missed events while disconnected converges. A role already
 *   applied is not delivered twice; one whose handler failed is retried.
 *   When the daemon has not been master since it started (a restart while
 *   this driver thought it was promoted), a demote is delivered.
 * - A refusal (wrong token, unknown driver id, a daemon not yet reloaded)
 *   is reported through `onStatus` and retried like any lost connection,
 *   with capped exponential backoff and jitter: the operator may fix the
 *   node's config while the driver waits. Only a malformed token (not
 *   base64, too short) is permanent: `connectDriver` throws at once.
 *
 * Permissions: `--allow-net` to the node, `--allow-read` for a token file,
 * and `--allow-env=DEBUG` (the transport's logger reads `DEBUG`; without
 * it Deno asks on a terminal). `DEBUG=clustd:mesh` shows handshake details.
 *
 * Usage:
 * ```ts
 * import { connectDriver, readTokenFile } from "./drivers/sdk.ts";
 *
 * const driver = connectDriver({
 *   url: "ws://127.0.0.1:7400",
 *   // What `clustd derive-key driver my-driver` printed on that node.
 *   token: await readTokenFile("/etc/clustd/my-driver.key"),
 *   driverId: "my-driver", // listed in the node's config as {type: external, id: my-driver}
 *   async onEvent(event) {
 *     if (event.event === "promote") await startService(event.term);
 *     else await stopService();
 *   },
 * });
 * Deno.addSignalListener("SIGTERM", () => driver.close());
 * await driver.done;
 * ```
 */

import { openConnection, type SecureChannel } from "../src/mesh/client.ts";
import {
  checkTokenBytes,
  decodeToken,
  type DriverEvent,
  type DriverStatus,
  parseServerMessage,
  roleKey,
} from "./_sdk_wire.ts";

export {
  checkTokenBytes,
  decodeToken,
  type DriverEvent,
  type DriverStatus,
  parseServerMessage,
  readTokenFile,
  TOKEN_BYTES_MIN,
} from "./_sdk_wire.ts";

/** Default first reconnect delay. */
export const RECONNECT_MIN_MS_DEFAULT = 100;
/** Default cap of the reconnect delay. */
export const RECONNECT_MAX_MS_DEFAULT = 5000;
/** Time the daemon has to answer hello with welcome or refused. */
export const WELCOME_TIMEOUT_MS = 5000;
/** Reconnect attempts counted for backoff growth (the delay is capped anyway). */
const BACKOFF_EXPONENT_MAX = 16;
const DRIVER_ID_PATTERN = /^[a-z0-9._-]{1,64}$/;

/** Options of `connectDriver`. */
export interface ConnectDriverOptions {
  /** The local node's address, e.g. `ws://127.0.0.1:7400` (its `node.listen`). */
  url: string;
  /**
   * This driver's key, base64 text or bytes: what `clustd derive-key driver
   * ID` prints on the node (derived from its `driver_token_file` and the id).
   */
  token: string | Uint8Array;
  /** This driver's id, as in the node's `{type: external, id}` entry. */
  driverId: string;
  /** Applies one role change; the next waits for it. A throw acks `ok: false`. */
  onEvent(event: DriverEvent): void | Promise<void>;
  /** Connection news (connected, disconnected, refused: each with the retry delay), for logs. */
  onStatus?(status: DriverStatus): void;
  /** First reconnect delay, before jitter. Default 100. */
  reconnectMinMs?: number;
  /** Cap of the reconnect delay, before jitter. Default 5000. */
  reconnectMaxMs?: number;
  /** Aborting it closes the driver, like `close()`. */
  signal?: AbortSignal;
}

type Applied = { key: string; ok: boolean } | null;
type SessionEnd = { reason: string; welcomed: boolean; refused?: string };

/** Connects to the local daemon and delivers its role changes until closed. */
export function connectDriver(options: ConnectDriverOptions): ExternalDriver {
  return new ExternalDriver(options);
}

/** A running external driver; see the module comment for its rules. */
export class ExternalDriver {
  /** Resolves after `close()` (or an abort of `signal`); refusals are retried. */
  readonly done: Promise<void>;
  readonly #o: ConnectDriverOptions;
  readonly #psk: Uint8Array;
  readonly #minMs: number;
  readonly #maxMs: number;
  #stopped = false;
  #wake: (() => void) | null = null;
  #channel: SecureChannel | null = null;
  /** The current connection in any state, so `close()` can end it. */
  #connection: SecureChannel | null = null;
  #target: DriverEvent | null = null;
  #applied: Applied = null;
  #lastHandled: DriverEvent | null = null;
  #pump: Promise<void> | null = null;

  /** Validates the options (throws on a bad id or a malformed token) and starts connecting. */
  constructor(options: ConnectDriverOptions) {
    if (!DRIVER_ID_PATTERN.test(options.driverId)) {
      throw new TypeError(
        `Driver id ${
          JSON.stringify(options.driverId)
        } is not valid: use 1 to 64 characters from a-z, 0-9, ".", "_", "-"`,
      );
    }
    this.#psk = typeof options.token === "string"
      ? decodeToken(options.token)
      : options.token.slice();
    checkTokenBytes(this.#psk);
    this.#o = options;
    this.#minMs = Math.max(
      1,
      options.reconnectMinMs ?? RECONNECT_MIN_MS_DEFAULT,
    );
    this.#maxMs = Math.max(
      this.#minMs,
      options.reconnectMaxMs ?? RECONNECT_MAX_MS_DEFAULT,
    );
    const signal = options.signal;
    if (signal?.aborted) this.#stopped = true;
    const onAbort = () => this.#stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.done = this.#run().finally(() => {
      signal?.removeEventListener("abort", onAbort);
    });
  }

  /** True while a welcomed channel to the daemon is open. */
  get connected(): boolean {
    return this.#channel !== null;
  }

  /** The last event the handler finished (successfully or not), or null. */
  get state(): DriverEvent | null {
    return this.#lastHandled;
  }

  /** Disconnects, waits for a running handler, and resolves `done`. */
  async close(): Promise<void> {
    this.#stop();
    await this.done.catch(() => {});
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#connection?.close("driver closing");
    this.#channel?.close("driver closing");
    this.#wake?.();
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      const end = await this.#session();
      if (this.#stopped) break;
      // A refusal grows the delay like a failed dial: a node that keeps
      // refusing sees one attempt per reconnectMaxMs (jittered), no storm.
      attempt = end.welcomed ? 0 : Math.min(attempt + 1, BACKOFF_EXPONENT_MAX);
      const retryInMs = this.#backoffMs(attempt);
      this.#o.onStatus?.(
        end.refused === undefined
          ? { kind: "disconnected", reason: end.reason, retryInMs }
          : { kind: "refused", message: end.refused, retryInMs },
      );
      await this.#sleep(retryInMs);
    }
    await this.#pump;
  }

  /** Capped exponential backoff with jitter in [half, full] of the step. */
  #backoffMs(attempt: number): number {
    const step = Math.min(this.#maxMs, this.#minMs * 2 ** attempt);
    return Math.round(step / 2 + Math.random() * step / 2);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  /** One connection, from dial to close. */
  async #session(): Promise<SessionEnd> {
    const connection = openConnection(this.#o.url, {
      kind: "driver",
      psk: this.#psk,
      selfId: this.#o.driverId,
    });
    this.#connection = connection;
    try {
      if (!await connection.established) {
        const reason = await connection.closed;
        return { reason, welcomed: false, ...refusalOf(reason) };
      }
      if (this.#stopped) {
        connection.close("driver closing");
        await connection.closed;
        return { reason: "driver closing", welcomed: false };
      }
      return await this.#converse(connection);
    } finally {
      this.#connection = null;
    }
  }

  /** Hello, then welcome or refused, then events until the channel closes. */
  async #converse(channel: SecureChannel): Promise<SessionEnd> {
    let welcomed = false;
    let refused: string | undefined;
    const timer = setTimeout(() => {
      if (!welcomed) channel.close("no welcome from the daemon in time");
    }, WELCOME_TIMEOUT_MS);
    channel.onMessage((value) => {
      const message = parseServerMessage(value);
      if (typeof message === "string") {
        channel.close(`bad message from the daemon: ${message}`);
      } else if (message.type === "refused") {
        refused = `node refused driver ${
          JSON.stringify(this.#o.driverId)
        }: ${message.message}`;
        channel.close("refused");
      } else if (message.type === "welcome") {
        if (welcomed) return void channel.close("second welcome");
        welcomed = true;
        clearTimeout(timer);
        this.#channel = channel;
        this.#o.onStatus?.({ kind: "connected", nodeId: message.nodeId });
        this.#restate(message.state, message.nodeId);
      } else if (!welcomed) {
        channel.close("event before welcome");
      } else {
        this.#offer(message.event);
      }
    });
    channel.send({ type: "hello", driver_id: this.#o.driverId });
    const reason = await channel.closed;
    clearTimeout(timer);
    if (this.#channel === channel) this.#channel = null;
    return { reason, welcomed, ...(refused === undefined ? {} : { refused }) };
  }

  /** The welcome's state: the node's role now, replayed if not yet applied. */
  #restate(state: DriverEvent | null, nodeId: string): void {
    const last = this.#target ?? this.#lastHandled;
    if (state === null) {
      // The daemon has not been master since it started: if we believe we
      // are promoted, that belief is stale (it restarted), so step down.
      if (last === null || last.event !== "promote") return;
      state = {
        event: "demote",
        role: "backup",
        term: last.term,
        reason: "start",
        nodeId,
        masterId: null,
        source: "welcome",
      };
    }
    // A failed action is retried when the daemon restates it.
    if (this.#applied?.ok === false && this.#applied.key === roleKey(state)) {
      this.#applied = null;
    }
    this.#offer(state);
  }

  /** Makes `event` the target and runs the lane if it is idle. */
  #offer(event: DriverEvent): void {
    this.#target = event;
    if (this.#pump === null) {
      this.#pump = this.#drain().finally(() => this.#pump = null);
    }
  }

  async #drain(): Promise<void> {
    while (
      this.#target !== null && this.#applied?.key !== roleKey(this.#target)
    ) {
      const event = this.#target;
      let ok = true;
      try {
        await this.#o.onEvent(event);
      } catch (error: unknown) {
        ok = false;
        this.#o.onStatus?.({
          kind: "handler_failed",
          event,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      this.#applied = { key: roleKey(event), ok };
      this.#lastHandled = event;
      this.#channel?.send({
        type: "ack",
        term: event.term,
        event: event.event,
        ok,
      });
    }
  }
}

/** Names a handshake refusal for `onStatus` (it is retried all the same). */
function refusalOf(reason: string): { refused?: string } {
  if (reason.startsWith("handshake failed (auth)")) {
    return {
      refused:
        'the node refused the driver key: it is not the key "clustd derive-key driver ID" prints on that node for this driver id (or the id is not configured there)',
    };
  }
  if (
    reason.startsWith("handshake failed (kind)") ||
    reason.startsWith("handshake failed (identity)") ||
    reason.startsWith("handshake failed (version)")
  ) {
    return { refused: reason };
  }
  return {};
}
