/**
 * One end of a WebSocket over a raw Deno connection, client or server: the
 * open connection's read loop, bounded send queue and closing handshake,
 * behind exactly the part of the browser `WebSocket` interface that the
 * mesh's `channel.ts` uses, with the same events. How the connection is
 * opened (dialing and upgrading, or answering an upgrade) is the caller's
 * `open` function (`client.ts`, `server.ts`). Never lets a network fault
 * escape as an exception or an unhandled rejection, and never buffers
 * without bound.
 */

import {
  CLOSE_REASON_BYTES_MAX,
  encodeClose,
  encodeFrame,
  FRAME_HEADER_BYTES_MAX,
  isSendableCloseCode,
  joinBytes,
  OPCODE,
  type WireProblem,
  type WsRole,
} from "./codec.ts";
import { MessageReader, READ_CHUNK_BYTES, type WireItem } from "./reader.ts";

/**
 * Largest message accepted by default, frame headers included: a 64 KiB
 * payload (clustd's sealed frame limit) in one frame with the longest header.
 */
export const WS_MESSAGE_BYTES_MAX_DEFAULT = 64 * 1024 + FRAME_HEADER_BYTES_MAX;
/** Time from construction to an open socket before giving up. */
export const WS_OPEN_TIMEOUT_MS_DEFAULT = 10_000;
/** Time to wait for the peer's close frame (and for writes to drain). */
export const WS_CLOSE_WAIT_MS_DEFAULT = 1000;
/**
 * Bytes queued for the socket (beyond what the kernel took) before the
 * connection is failed: a few of the largest messages. A peer that sends
 * pings and never reads our pongs is dropped here.
 */
export const WS_SEND_QUEUE_BYTES_MAX_DEFAULT = 1024 * 1024;

/** Options shared by both ends. */
export interface WsSocketOptions {
  /** Refuse (close with 1009) a message larger than this many bytes. */
  messageBytesMax?: number;
  openTimeoutMs?: number;
  closeWaitMs?: number;
  /** Fail the connection when more than this many bytes wait to be sent. */
  sendQueueBytesMax?: number;
}

/** An opened connection: the conn and the bytes already read past the upgrade. */
export interface OpenedConn {
  conn: Deno.Conn;
  buffered: Uint8Array;
}

/** What `open` may use while opening; throws once the socket gave up. */
export interface Opening {
  /** Records the conn so a timeout or close() can close it. */
  adopt(conn: Deno.Conn): void;
  /** Throws when the socket stopped connecting (timeout or close()). */
  check(): void;
  /** Aborted on open timeout or close() while connecting. */
  signal: AbortSignal;
}

interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** A WebSocket end over a raw connection; see the module comment. */
export class WsSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly url: string;
  binaryType: BinaryType = "blob";
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  readonly #role: WsRole;
  #state: number = WsSocket.CONNECTING;
  #o: Required<WsSocketOptions>;
  #conn: Deno.Conn | undefined;
  #abort = new AbortController();
  #closeInfo: CloseInfo | undefined;
  #error: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sendQueue: Uint8Array[] = [];
  #sendQueueBytes = 0;
  #writing: Promise<void> | undefined;
  // Owned here so the lifecycle has one awaited root; it never rejects.
  readonly #lifecycle: Promise<void>;

  /** Starts `open`; `url` names the other end in messages. */
  constructor(
    url: string,
    role: WsRole,
    open: (opening: Opening) => Promise<OpenedConn>,
    options: WsSocketOptions = {},
  ) {
    this.url = url;
    this.#role = role;
    this.#o = {
      messageBytesMax: options.messageBytesMax ?? WS_MESSAGE_BYTES_MAX_DEFAULT,
      openTimeoutMs: options.openTimeoutMs ?? WS_OPEN_TIMEOUT_MS_DEFAULT,
      closeWaitMs: options.closeWaitMs ?? WS_CLOSE_WAIT_MS_DEFAULT,
      sendQueueBytesMax: options.sendQueueBytesMax ??
        WS_SEND_QUEUE_BYTES_MAX_DEFAULT,
    };
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#failConnecting(
        `no WebSocket connection to ${this.url} within ${this.#o.openTimeoutMs} ms`,
      );
    }, this.#o.openTimeoutMs);
    this.#lifecycle = this.#run(open);
  }

  /** `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
  get readyState(): number {
    return this.#state;
  }

  /** Resolves once the socket is closed and its close event dispatched. */
  get finished(): Promise<void> {
    return this.#lifecycle;
  }

  /** Sends a text (string) or binary message; dropped once closing. */
  send(data: string | Uint8Array | ArrayBuffer): void {
    if (this.#state === WsSocket.CONNECTING) {
      throw new DOMException("The WebSocket is not open", "InvalidStateError");
    }
    if (this.#state !== WsSocket.OPEN) return;
    const payload = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : data;
    this.#enqueue(
      typeof data === "string" ? OPCODE.text : OPCODE.binary,
      payload,
    );
  }

  /** Starts the closing handshake (idempotent). */
  close(code?: number, reason = ""): void {
    if (code !== undefined && !isSendableCloseCode(code)) {
      throw new DOMException(
        `The close code must be 1000-1003, 1007-1014 or 3000-4999, got ${code}`,
        "InvalidAccessError",
      );
    }
    if (new TextEncoder().encode(reason).length > CLOSE_REASON_BYTES_MAX) {
      throw new DOMException(
        `The close reason must be at most ${CLOSE_REASON_BYTES_MAX} bytes`,
        "SyntaxError",
      );
    }
    if (this.#state === WsSocket.CONNECTING) {
      this.#failConnecting("the WebSocket was closed before it opened");
    } else if (this.#state === WsSocket.OPEN) {
      this.#startClosing(code, reason);
    }
  }

  async #run(open: (opening: Opening) => Promise<OpenedConn>): Promise<void> {
    try {
      const opened = await open({
        adopt: (conn) => {
          this.#conn = conn;
          this.#assertConnecting();
        },
        check: () => this.#assertConnecting(),
        signal: this.#abort.signal,
      });
      this.#conn = opened.conn;
      this.#assertConnecting();
      const reader = new MessageReader(this.#o.messageBytesMax, this.#role);
      const problem = reader.push(opened.buffered);
      this.#state = WsSocket.OPEN;
      this.#clearTimer();
      this.#dispatch(this.onopen, new Event("open"));
      if (problem !== undefined) return void this.#failOpen(problem);
      await this.#readLoop(reader);
    } catch (error: unknown) {
      // A read or write failing after we chose to close the conn is
      // expected: the close is already recorded with its reason.
      if (this.#closeInfo === undefined) {
        const message = error instanceof Error ? error.message : String(error);
        this.#recordFailure(`WebSocket to ${this.url} failed: ${message}`);
      }
    } finally {
      await this.#finish();
    }
  }

  async #readLoop(reader: MessageReader): Promise<void> {
    const conn = this.#conn!;
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    for (;;) {
      for (let item = reader.next(); item !== undefined; item = reader.next()) {
        if (!this.#receive(item)) return;
      }
      const count = await conn.read(chunk);
      if (count === null) {
        this.#closeInfo ??= { code: 1006, reason: "", wasClean: false };
        return;
      }
      const problem = reader.push(chunk.subarray(0, count));
      if (problem !== undefined) return void this.#failOpen(problem);
    }
  }

  /** Acts on one received item; false once reading should stop. */
  #receive(item: WireItem): boolean {
    switch (item.kind) {
      case "problem":
        return this.#failOpen(item);
      case "ping":
        if (this.#state === WsSocket.OPEN) {
          this.#enqueue(OPCODE.pong, item.payload);
        }
        return true;
      case "pong":
        return true;
      case "close":
        this.#closeInfo ??= {
          code: item.code,
          reason: item.reason,
          wasClean: true,
        };
        if (this.#state === WsSocket.OPEN) {
          // The peer started closing: echo its code, then end the connection.
          this.#state = WsSocket.CLOSING;
          const code = item.code === 1005 ? undefined : item.code;
          this.#enqueue(OPCODE.close, encodeClose(code, ""));
        }
        return false;
    }
    // Messages arriving after our close frame are dropped, as browsers do.
    if (this.#state !== WsSocket.OPEN) return true;
    const data = item.kind === "text"
      ? item.text
      : this.binaryType === "blob"
      ? new Blob([item.bytes])
      : item.bytes.byteOffset === 0 &&
          item.bytes.buffer.byteLength === item.bytes.length
      ? item.bytes.buffer
      : item.bytes.slice().buffer;
    this.#dispatch(this.onmessage, new MessageEvent("message", { data }));
    return true;
  }

  #startClosing(code: number | undefined, reason: string): void {
    this.#state = WsSocket.CLOSING;
    this.#enqueue(OPCODE.close, encodeClose(code, reason));
    if (this.#role === "server") {
      // The server ends the TCP connection first (RFC 6455 §7.1.1): once
      // the close frame is out, without waiting for an echo that a hostile
      // client would never send. The timer below bounds a stuck write.
      this.#closeInfo ??= { code: code ?? 1005, reason, wasClean: true };
      const writing = this.#writing;
      if (writing === undefined) this.#closeConn();
      else void writing.then(() => this.#closeConn());
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // The peer never answered our close frame: end it uncleanly.
      this.#closeInfo ??= { code: 1006, reason: "", wasClean: false };
      this.#closeConn();
    }, this.#o.closeWaitMs);
  }

  /** Fails an open connection for a protocol violation; returns false. */
  #failOpen(problem: WireProblem): boolean {
    const message = `WebSocket to ${this.url}: ${problem.message}`;
    this.#error ??= message;
    this.#closeInfo ??= {
      code: problem.code,
      reason: problem.message.slice(0, CLOSE_REASON_BYTES_MAX),
      wasClean: false,
    };
    if (this.#state === WsSocket.OPEN) {
      this.#state = WsSocket.CLOSING;
      this.#enqueue(
        OPCODE.close,
        encodeClose(problem.code, problem.message.slice(0, 60)),
      );
    }
    return false;
  }

  #failConnecting(message: string): void {
    if (this.#state !== WsSocket.CONNECTING) return;
    this.#recordFailure(message);
    this.#state = WsSocket.CLOSING;
    this.#abort.abort();
    this.#closeConn();
  }

  #recordFailure(message: string): void {
    this.#error ??= message;
    this.#closeInfo ??= { code: 1006, reason: message, wasClean: false };
  }

  #enqueue(opcode: number, payload: Uint8Array): void {
    const frame = encodeFrame(
      opcode,
      payload,
      this.#role === "client"
        ? crypto.getRandomValues(new Uint8Array(4))
        : undefined,
    );
    const max = this.#o.sendQueueBytesMax;
    if (this.#sendQueueBytes + frame.length > max) {
      this.#recordFailure(
        `over ${max} bytes queued: the peer is not reading`,
      );
      this.#state = WsSocket.CLOSING;
      this.#closeConn();
      return;
    }
    this.#sendQueue.push(frame);
    this.#sendQueueBytes += frame.length;
    // The first write starts synchronously, so a lone frame leaves now.
    this.#writing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#sendQueue.length > 0) {
        const conn = this.#conn;
        if (conn === undefined) return;
        const frames = this.#sendQueue.splice(0);
        const batch = frames.length === 1 ? frames[0]! : joinBytes(frames);
        await writeAll(conn, batch);
        this.#sendQueueBytes -= batch.length;
      }
    } catch (error: unknown) {
      // After we closed the conn on purpose, a failing write is expected.
      if (this.#closeInfo === undefined) {
        const message = error instanceof Error ? error.message : String(error);
        this.#recordFailure(`write to ${this.url} failed: ${message}`);
      }
      this.#closeConn();
    } finally {
      this.#writing = undefined;
    }
  }

  /** Drains writes (bounded), closes the conn, dispatches error and close. */
  async #finish(): Promise<void> {
    this.#clearTimer();
    this.#state = WsSocket.CLOSING;
    if (this.#writing !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#o.closeWaitMs);
      });
      await Promise.race([this.#writing, late]);
      clearTimeout(timer);
    }
    this.#closeConn();
    // Closing the conn ends a stuck write; wait so no op outlives us.
    await this.#writing;
    this.#state = WsSocket.CLOSED;
    this.#sendQueue = [];
    const info = this.#closeInfo ?? { code: 1006, reason: "", wasClean: false };
    if (this.#error !== undefined) {
      this.#dispatch(
        this.onerror,
        new ErrorEvent("error", { message: this.#error }),
      );
    }
    this.#dispatch(this.onclose, new CloseEvent("close", info));
  }

  #closeConn(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn === undefined) return;
    try {
      conn.close();
    } catch (_error: unknown) {
      // Already closed (TLS upgrade consumed it, or the runtime did): the
      // goal, a closed conn, holds either way.
    }
  }

  #assertConnecting(): void {
    if (this.#state !== WsSocket.CONNECTING) {
      throw new Error("closed while connecting");
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #dispatch<E extends Event>(
    handler: ((event: E) => void) | null,
    event: E,
  ): void {
    if (handler === null) return;
    try {
      handler.call(this, event);
    } catch (error: unknown) {
      // As for an EventTarget: a throwing listener is reported, not ours.
      reportError(error);
    }
  }
}

/** Writes all of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}
