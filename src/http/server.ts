/**
 * The daemon's one TCP listener: reads each HTTP/1.1 request head itself
 * (bounded size, header-read timeout, connection caps in total and per
 * source), answers probes through the pure handler's `Request -> Response`,
 * and hands WebSocket upgrades with their raw connection to the caller.
 * Deno.serve cannot do the latter: its WebSocket upgrade buffers whole
 * messages. Survives descriptor exhaustion: accept errors are logged once
 * per episode and retried with backoff, never the end of the process.
 * Decides nothing about the mesh; never imports it.
 */

import { logger } from "../log.ts";
import { ThrottledLog } from "../log_throttle.ts";
import { ConnectionSlots } from "./_slots.ts";
import {
  hasBody,
  keepsAlive,
  parseRequestHead,
  type RequestHead,
} from "./_request_head.ts";
import { sourceKey } from "./source.ts";
import { headEnd } from "../websocket/codec.ts";
import { AcceptPace } from "./_accept_pace.ts";
import { plain, serializeResponse } from "./_response.ts";
import { HttpServerCounters } from "./server_metrics.ts";

export type { HttpServerMetrics } from "./server_metrics.ts";

/** Longest request head (request line and header fields). */
export const HEAD_BYTES_MAX = 8 * 1024;
/** Time a client has to send a whole request head (or the next one). */
export const HEADER_TIMEOUT_MS = 5000;
/** Time a response may take to be written before the connection goes. */
export const WRITE_TIMEOUT_MS = 5000;
/** Connections open in their HTTP phase, all sources together. */
export const CONNECTIONS_MAX = 128;
/** Connections open in their HTTP phase from one source. */
export const CONNECTIONS_PER_SOURCE_MAX = 16;
/** Requests served on one kept-alive connection. */
export const REQUESTS_PER_CONNECTION_MAX = 100;
/**
 * New connections taken from the kernel per second (burst: the same
 * number). The rest wait in the backlog, so a connection flood cannot keep
 * the event loop busy enough to delay the election's timers.
 */
export const ACCEPTS_PER_SECOND_MAX = 250;
/** Connections accepted in a row before timers and other I/O get a turn. */
const ACCEPTS_PER_TURN_MAX = 8;
/** First and longest wait before accepting again after an accept error. */
const ACCEPT_RETRY_MS_MIN = 10;
const ACCEPT_RETRY_MS_MAX = 1000;
const READ_CHUNK_BYTES = 4096;

/** Who is on the other end of a request. */
export interface ClientInfo {
  /** The remote IP address. */
  address: string;
  /** The address's source key (IPv6 by /64), for per-source limits. */
  source: string;
}

/** An accepted upgrade: takes over the connection and the bytes read past the head. */
export interface Upgrade {
  upgrade(conn: Deno.TcpConn, buffered: Uint8Array): void;
}

/** Options of `HttpServer`. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  /** Answers a request, or takes over its connection for an upgrade. */
  handle(request: Request, client: ClientInfo): Response | Upgrade;
  connectionsMax?: number;
  connectionsPerSourceMax?: number;
  headerTimeoutMs?: number;
}

/** The listener; see the module comment. */
export class HttpServer {
  readonly #o: HttpServerOptions;
  readonly #log = logger("http");
  readonly #failures = new ThrottledLog(this.#log);
  readonly #counters = new HttpServerCounters();
  readonly #slots: ConnectionSlots;
  readonly #open = new Set<Deno.Conn>();
  #listener: Deno.TcpListener | undefined;
  #loop: Promise<void> = Promise.resolve();
  #closed = false;
  #retry:
    | { timer: ReturnType<typeof setTimeout>; resolve: () => void }
    | undefined;

  constructor(options: HttpServerOptions) {
    this.#o = options;
    this.#slots = new ConnectionSlots(
      options.connectionsMax ?? CONNECTIONS_MAX,
      options.connectionsPerSourceMax ?? CONNECTIONS_PER_SOURCE_MAX,
    );
  }

  /** Binds the port (throws when it cannot) and starts accepting. */
  listen(): Deno.NetAddr {
    const listener = Deno.listen({
      hostname: this.#o.hostname,
      port: this.#o.port,
      transport: "tcp",
    });
    this.#listener = listener;
    this.#loop = this.#acceptLoop(listener);
    return listener.addr;
  }

  /** Counter snapshot for /metrics. */
  metrics() {
    return this.#counters.snapshot(this.#open.size);
  }

  /** Stops accepting and closes connections still in their HTTP phase. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener?.close();
    } catch (_error: unknown) {
      // Already closed: nothing more to stop.
    }
    if (this.#retry !== undefined) {
      clearTimeout(this.#retry.timer);
      this.#retry.resolve();
    }
    for (const conn of this.#open) closeQuietly(conn);
    await this.#loop;
    this.#failures.close();
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    let retryMs = ACCEPT_RETRY_MS_MIN;
    let failures = 0;
    const pace = new AcceptPace(ACCEPTS_PER_SECOND_MAX, ACCEPTS_PER_TURN_MAX);
    while (!this.#closed) {
      const waitMs = pace.waitMs(performance.now());
      if (waitMs >= 0) {
        // Let timers and established connections run first.
        await this.#pause(waitMs);
        continue;
      }
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error: unknown) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // EMFILE/ENFILE and friends: the connection waits in the kernel's
        // backlog; try again once descriptors may have been freed.
        this.#counters.acceptError(errorCode(error));
        if (failures === 0) {
          this.#log.error("cannot accept connections, retrying", {
            error: error instanceof Error ? error.message : String(error),
          });
        }
        failures += 1;
        await this.#pause(retryMs);
        retryMs = Math.min(retryMs * 2, ACCEPT_RETRY_MS_MAX);
        continue;
      }
      if (failures > 0) {
        this.#log.info("accepting connections again", { failures });
        failures = 0;
        retryMs = ACCEPT_RETRY_MS_MIN;
      }
      this.#admit(conn);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#retry = undefined;
        resolve();
      }, ms);
      this.#retry = { timer, resolve };
    });
  }

  #admit(conn: Deno.TcpConn): void {
    const address = (conn.remoteAddr as Deno.NetAddr).hostname;
    const client = { address, source: sourceKey(address) };
    const release = this.#slots.take(client.source);
    if (typeof release === "string") {
      // Closed at once: a connection over the caps costs one accept.
      closeQuietly(conn);
      this.#counters.refused(release);
      this.#failures.report(
        client.source,
        release,
        "connection refused: too many open connections",
        { limit: release },
      );
      return;
    }
    this.#counters.connectionsAccepted += 1;
    this.#open.add(conn);
    void this.#serve(conn, client).then((handedOff) => {
      this.#open.delete(conn);
      if (!handedOff) closeQuietly(conn);
      release();
    });
  }

  /** Serves requests until close; true when the conn went to an upgrade. Never rejects. */
  async #serve(conn: Deno.TcpConn, client: ClientInfo): Promise<boolean> {
    try {
      conn.setNoDelay(true);
    } catch (_error: unknown) {
      // Already closed by the peer: the first read reports it.
    }
    let buffered: Uint8Array = new Uint8Array(0);
    for (let n = 1; n <= REQUESTS_PER_CONNECTION_MAX && !this.#closed; n++) {
      const read = await this.#readHead(conn, buffered);
      if (read.kind === "closed") return false;
      if (read.kind !== "head") {
        this.#counters.badRequest(read.kind);
        this.#failures.report(client.source, read.kind, read.message);
        if (read.kind !== "timeout") {
          const status = read.kind === "too_large" ? 431 : 400;
          await this.#write(conn, plain(status, read.message), "GET", false);
        }
        return false;
      }
      buffered = read.rest;
      this.#counters.requests += 1;
      const answer = this.#answer(read.head, client);
      if (!(answer instanceof Response)) {
        this.#counters.upgrades += 1;
        answer.upgrade(conn, buffered);
        return true;
      }
      // An error (a refused upgrade above all) ends the connection: what
      // follows it is rarely another request.
      const keep = keepsAlive(read.head) && !hasBody(read.head) &&
        answer.status < 400 && n < REQUESTS_PER_CONNECTION_MAX;
      if (!await this.#write(conn, answer, read.head.method, keep)) {
        return false;
      }
      if (!keep) return false;
    }
    return false;
  }

  #answer(head: RequestHead, client: ClientInfo): Response | Upgrade {
    let request: Request;
    try {
      request = new Request(`http://localhost${head.target}`, {
        method: head.method,
        headers: head.headers,
      });
    } catch (_error: unknown) {
      // CONNECT, TRACE and other methods fetch's Request refuses.
      return plain(405, "method not allowed");
    }
    try {
      return this.#o.handle(request, client);
    } catch (error: unknown) {
      this.#log.error("request handler failed", { error });
      return plain(500, "internal error");
    }
  }

  /** Reads one request head within the header timeout. */
  async #readHead(conn: Deno.Conn, buffered: Uint8Array): Promise<HeadRead> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, this.#o.headerTimeoutMs ?? HEADER_TIMEOUT_MS);
    try {
      let bytes = buffered;
      const chunk = new Uint8Array(READ_CHUNK_BYTES);
      for (;;) {
        const end = headEnd(bytes);
        if (end >= 0) {
          const text = new TextDecoder("latin1").decode(
            bytes.subarray(0, end - 4),
          );
          const head = parseRequestHead(text);
          if (typeof head === "string") {
            return { kind: "malformed", message: `bad request: ${head}` };
          }
          return { kind: "head", head, rest: bytes.slice(end) };
        }
        if (bytes.length >= HEAD_BYTES_MAX) {
          return {
            kind: "too_large",
            message: `request head over ${HEAD_BYTES_MAX} bytes`,
          };
        }
        const count = await conn.read(chunk);
        if (count === null) {
          return bytes.length === 0 ? { kind: "closed" } : {
            kind: "malformed",
            message: "connection closed inside a request head",
          };
        }
        const next = new Uint8Array(bytes.length + count);
        next.set(bytes);
        next.set(chunk.subarray(0, count), bytes.length);
        bytes = next;
      }
    } catch (_error: unknown) {
      if (!timedOut) return { kind: "closed" };
      return {
        kind: "timeout",
        message: `no complete request head within ${
          this.#o.headerTimeoutMs ?? HEADER_TIMEOUT_MS
        } ms`,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes `response` within the write timeout; false when the conn is gone. */
  async #write(
    conn: Deno.Conn,
    response: Response,
    method: string,
    keepAlive: boolean,
  ): Promise<boolean> {
    const timer = setTimeout(() => closeQuietly(conn), WRITE_TIMEOUT_MS);
    try {
      const out = await serializeResponse(response, method, keepAlive);
      let offset = 0;
      while (offset < out.length) {
        offset += await conn.write(out.subarray(offset));
      }
      return true;
    } catch (_error: unknown) {
      // The client went away or stalled past the write timeout.
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

type HeadRead =
  | { kind: "head"; head: RequestHead; rest: Uint8Array }
  | { kind: "closed" }
  | { kind: "timeout" | "too_large" | "malformed"; message: string };

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z0-9_]{1,20}$/.test(code)
    ? code
    : "other";
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (_error: unknown) {
    // Already closed: the goal holds.
  }
}
