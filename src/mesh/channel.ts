/**
 * A secure channel over one WebSocket: runs the handshake state machine,
 * then seals and opens frames in strict counter order. Any fault (bad
 * handshake, timeout, oversized, replayed, reordered or forged frame) closes
 * only this connection, is logged with the peer and reason, and is counted.
 * Knows nothing of peers lists, tie-breaks or elections.
 */

import type { Logger } from "../log.ts";
import type { ThrottledLog } from "../log_throttle.ts";
import type { WsSocket } from "../websocket/socket.ts";
import {
  FRAME_BYTES_MAX,
  type FrameError,
  FrameOpener,
  FrameSealer,
} from "./frame.ts";
import {
  type ChannelKind,
  ClientHandshake,
  type HandshakeFailure,
  type HandshakeStep,
  type ServerHandshake,
} from "./handshake.ts";
import type { MeshCounters } from "./metrics.ts";

/** Default time a handshake may take before the connection is closed. */
export const HANDSHAKE_TIMEOUT_MS_DEFAULT = 5000;
/** Received messages waiting for decryption before the channel gives up. */
export const INBOUND_QUEUE_MAX = 256;
/** Messages kept for a channel whose listener is not registered yet. */
export const UNDELIVERED_MAX = 256;
const CLOSE_REASON_BYTES_MAX = 120;

/** An authenticated, encrypted, ordered message channel. */
export interface SecureChannel {
  /** What this channel is for. */
  readonly kind: ChannelKind;
  /** The authenticated id the remote side presented. */
  readonly peerId: string;
  /** Non-secret session identifier (a transcript hash prefix). */
  readonly sessionId: string;
  /** `outbound` when this side dialed. */
  readonly direction: "outbound" | "inbound";
  /** Queues one JSON message; false when closed, too large or backlogged. */
  send(message: unknown): boolean;
  /** Registers a listener for received messages, in order. */
  onMessage(listener: (message: unknown) => void): void;
  /** Closes the channel (idempotent). */
  close(reason?: string): void;
  /** Resolves with the reason once the channel is closed. */
  readonly closed: Promise<string>;
}

/** Construction options of one connection. */
export interface ConnectionOptions {
  /** The project's own WebSocket, either end (`src/websocket/`). */
  socket: WsSocket;
  handshake: ClientHandshake | ServerHandshake;
  direction: "outbound" | "inbound";
  kind: ChannelKind;
  /** Where the other side is (URL or address), for logs. */
  remote: string;
  handshakeTimeoutMs: number;
  counters: MeshCounters;
  log: Logger;
  ratchetIntervalFrames?: number;
  /** Source key (or URL) of the remote end, for aggregated logs. */
  source?: string;
  /**
   * Where handshake failures go, aggregated per source and rate-limited,
   * since whoever is on the other end has not authenticated; absent: one
   * line each (the CLI and the SDK, which give up or back off anyway).
   */
  failures?: ThrottledLog;
}

type State = "handshaking" | "open" | "closed";
type Inbound = { data: unknown } | { closeReason: string };

function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= CLOSE_REASON_BYTES_MAX) return reason;
  return new TextDecoder().decode(bytes.slice(0, CLOSE_REASON_BYTES_MAX - 3))
    .replace(/\uFFFD+$/, "") + "...";
}

/** One WebSocket connection, from handshake to close. */
export class Connection implements SecureChannel {
  readonly kind: ChannelKind;
  readonly direction: "outbound" | "inbound";
  readonly remote: string;
  readonly closed: Promise<string>;
  /** Resolves true once authenticated, false if it closed before. */
  readonly established: Promise<boolean>;
  peerId = "";
  sessionId = "";
  #o: ConnectionOptions;
  #state: State = "handshaking";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: (reason: string) => void;
  #resolveEstablished!: (ok: boolean) => void;
  #inbound: Promise<void> = Promise.resolve();
  #inboundPending = 0;
  /** Inbound work items queued or running (the synchronous path needs none). */
  #chained = 0;
  #sealer: FrameSealer | undefined;
  #opener: FrameOpener | undefined;
  #listeners: ((message: unknown) => void)[] = [];
  #undelivered: unknown[] = [];
  #settled = false;
  #opened = false;
  #ratchetsSeen = 0;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    this.kind = options.kind;
    this.direction = options.direction;
    this.remote = options.remote;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.established = new Promise((r) => this.#resolveEstablished = r);
    options.counters.handshakesPending += 1;
    const socket = options.socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      this.#opened = true;
      if (this.#state === "closed") return socket.close(1000, "closing");
      if (options.handshake instanceof ClientHandshake) {
        const client = options.handshake;
        this.#chain(() => this.#applyStep(() => client.start()));
      }
    };
    socket.onmessage = (event: MessageEvent) => this.#receive(event.data);
    socket.onclose = (event: CloseEvent) => {
      const why = event.reason === "" ? `code ${event.code}` : event.reason;
      // Our WebSocket closes with 1009 (too big, too many fragments) or
      // 1002/1007 (protocol) itself, before anything was buffered; such a
      // close is never clean, unlike a close frame the other end sent.
      const failure = event.wasClean
        ? undefined
        : event.code === 1009
        ? "too_large"
        : event.code === 1002 || event.code === 1007
        ? "malformed"
        : undefined;
      this.#enqueueClose(
        failure === undefined
          ? `connection closed by peer (${why})`
          : `WebSocket refused: ${why}`,
        failure,
      );
    };
    // An error event is always followed by a close event, which carries
    // the better reason; the handshake timer and the peer timeout cover a
    // socket that never reports either.
    socket.onerror = () =>
      this.#o.log.debug("socket error", { remote: this.remote });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state !== "handshaking") return;
      this.#failHandshake(
        "timeout",
        `handshake did not finish within ${options.handshakeTimeoutMs} ms`,
      );
    }, options.handshakeTimeoutMs);
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#listeners.push(listener);
    const pending = this.#undelivered.splice(0);
    for (const message of pending) listener(message);
  }

  send(message: unknown): boolean {
    if (this.#state !== "open" || this.#sealer === undefined) return false;
    const plaintext = FrameSealer.encode(message);
    if (plaintext === undefined) {
      this.#o.counters.sendsRefused += 1;
      this.#o.log.warn("message not sent", {
        peer: this.peerId,
        reason: "not JSON, or larger than one frame",
      });
      return false;
    }
    // Sealing is synchronous: the frame is on the socket's queue before
    // `send` returns, so frames leave in call order with no promise chain.
    try {
      const frame = this.#sealer.seal(plaintext);
      this.#o.socket.send(frame);
      this.#o.counters.framesSent += 1;
      this.#o.counters.bytesSent += frame.length;
      this.#countRatchets();
    } catch (error: unknown) {
      this.#shutdown(`send failed: ${String(error)}`, 1011);
      return false;
    }
    return true;
  }

  close(reason = "closed by this node"): void {
    this.#shutdown(reason, 1000);
  }

  #receive(data: unknown): void {
    if (this.#state === "closed") return;
    const size = typeof data === "string"
      ? data.length
      : data instanceof ArrayBuffer
      ? data.byteLength
      : 0;
    // Refuse oversized input before queueing it: a 1 MiB message must not
    // sit in memory waiting for its turn.
    if (size > FRAME_BYTES_MAX) {
      const detail = `message of ${size} bytes exceeds ${FRAME_BYTES_MAX}`;
      if (this.#state === "handshaking") {
        this.#failHandshake("too_large", detail, undefined, 1009);
      } else this.#failFrame("too_large", detail);
      return;
    }
    if (
      this.#state === "open" && this.#chained === 0 &&
      data instanceof ArrayBuffer
    ) {
      // Nothing queued ahead of it and opening is synchronous: handle the
      // frame now, without a promise chain per frame.
      this.#guarded(() => this.#openFrame(new Uint8Array(data)));
      return;
    }
    if (this.#inboundPending >= INBOUND_QUEUE_MAX) {
      this.#shutdown("receive queue overflow", 1008);
      return;
    }
    this.#inboundPending += 1;
    this.#chain(async () => {
      this.#inboundPending -= 1;
      await this.#process({ data });
    });
  }

  #enqueueClose(reason: string, failure?: "too_large" | "malformed"): void {
    if (this.#state === "closed") return;
    if (failure !== undefined) {
      // Not queued behind pending work: the socket is already gone.
      if (this.#state === "handshaking") {
        this.#failHandshake(failure, reason);
      } else this.#failFrame(failure, reason);
      return;
    }
    this.#chain(() => this.#process({ closeReason: reason }));
  }

  /** Runs inbound work strictly in arrival order. */
  #chain(work: () => Promise<void>): void {
    this.#chained += 1;
    this.#inbound = this.#inbound.then(async () => {
      try {
        if (this.#state === "closed") return;
        await work();
      } catch (error: unknown) {
        this.#internalError(error);
      } finally {
        this.#chained -= 1;
      }
    });
  }

  #guarded(work: () => void): void {
    try {
      work();
    } catch (error: unknown) {
      this.#internalError(error);
    }
  }

  /** A bug (ours or a listener's), not a network fault: loud, but loses only this connection. */
  #internalError(error: unknown): void {
    this.#o.log.error("channel failed internally, closing it", {
      kind: this.kind,
      peer: this.peerId,
      remote: this.remote,
      error,
    });
    this.#shutdown(`internal error: ${String(error)}`, 1011);
  }

  async #process(item: Inbound): Promise<void> {
    if ("closeReason" in item) {
      if (!this.#opened && this.direction === "outbound") {
        // Nothing answered: an unreachable peer, not a failed handshake.
        this.#o.log.debug("cannot connect", { remote: this.remote });
        this.#shutdown(`cannot connect to ${this.remote}`, 1000);
      } else if (this.#state === "handshaking") {
        this.#failHandshake(
          "closed",
          `${item.closeReason} during the handshake`,
        );
      } else this.#shutdown(item.closeReason, 1000);
      return;
    }
    const data = item.data;
    if (this.#state === "handshaking") {
      if (typeof data !== "string") {
        const text = "binary data before the handshake finished";
        this.#failHandshake("malformed", text, {
          type: "refuse",
          reason: "malformed",
          message: text,
        });
        return;
      }
      await this.#applyStep(() => this.#o.handshake.receive(data));
      return;
    }
    if (typeof data === "string") {
      this.#lateText(data);
      return;
    }
    this.#openFrame(new Uint8Array(data as ArrayBuffer));
  }

  /**
   * After the handshake only a refusal may arrive as text: the server
   * rejected our finish (a broken or hostile client). Anything else is a
   * malformed frame.
   */
  #lateText(data: string): void {
    let refusal: Record<string, unknown> | undefined;
    try {
      const value: unknown = JSON.parse(data);
      if (value !== null && typeof value === "object") {
        refusal = value as Record<string, unknown>;
      }
    } catch (_error: unknown) {
      // Not JSON: handled as a malformed frame below.
    }
    if (refusal?.type === "refuse" && this.direction === "outbound") {
      const text = typeof refusal.message === "string"
        ? refusal.message.slice(0, 500)
        : "no reason given";
      this.#state = "handshaking";
      this.#failHandshake("auth", `peer refused the handshake: ${text}`);
      return;
    }
    this.#failFrame("malformed", "text message after the handshake");
  }

  #openFrame(frame: Uint8Array<ArrayBuffer>): void {
    const opener = this.#opener;
    if (opener === undefined) return;
    const result = opener.open(frame);
    if (this.#state !== "open") return;
    if (!result.ok) {
      this.#failFrame(result.error, result.detail);
      return;
    }
    this.#o.counters.framesReceived += 1;
    this.#o.counters.bytesReceived += frame.length;
    this.#countRatchets();
    if (this.#listeners.length === 0) {
      if (this.#undelivered.length >= UNDELIVERED_MAX) {
        this.#shutdown("undelivered message backlog overflow", 1008);
        return;
      }
      this.#undelivered.push(result.message);
      return;
    }
    for (const listener of this.#listeners) listener(result.message);
  }

  async #applyStep(run: () => Promise<HandshakeStep>): Promise<void> {
    const step = await run();
    if (this.#state === "closed") return;
    if (
      step.send !== undefined && this.#o.socket.readyState === WebSocket.OPEN
    ) {
      this.#o.socket.send(JSON.stringify(step.send));
    }
    const result = step.result;
    if (result === undefined) return;
    if (!result.ok) {
      this.#failHandshake(result.failure, result.message);
      return;
    }
    this.peerId = result.peerId;
    this.sessionId = result.keys.sessionId;
    const codec = this.#o.ratchetIntervalFrames === undefined
      ? {}
      : { ratchetIntervalFrames: this.#o.ratchetIntervalFrames };
    this.#sealer = new FrameSealer(result.keys.sendChainKey, codec);
    this.#opener = new FrameOpener(result.keys.receiveChainKey, codec);
    result.keys.sendChainKey.fill(0);
    result.keys.receiveChainKey.fill(0);
    this.#state = "open";
    this.#settle();
    this.#o.counters.connectsTotal += 1;
    this.#o.log.debug("channel established", {
      kind: this.kind,
      peer: this.peerId,
      remote: this.remote,
      direction: this.direction,
      session: this.sessionId,
    });
    this.#resolveEstablished(true);
  }

  #countRatchets(): void {
    const total = (this.#sealer?.ratchets ?? 0) + (this.#opener?.ratchets ?? 0);
    if (total > this.#ratchetsSeen) {
      this.#o.counters.ratchetsTotal += total - this.#ratchetsSeen;
      this.#ratchetsSeen = total;
    }
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#o.counters.handshakesPending -= 1;
  }

  #failHandshake(
    failure: HandshakeFailure,
    message: string,
    send?: Record<string, unknown>,
    code = 1008,
  ): void {
    if (this.#state !== "handshaking") return;
    this.#o.counters.handshakeFailed(failure);
    const fields = {
      kind: this.kind,
      // Not authenticated yet: the id the peer claims (or we dialed).
      peer: this.peerId !== ""
        ? this.peerId
        : this.#o.handshake.claimedPeerId ?? "unknown",
      remote: this.remote,
      direction: this.direction,
      reason: failure,
      detail: message,
    };
    if (this.#o.failures !== undefined) {
      this.#o.failures.report(
        this.#o.source ?? this.remote,
        failure,
        "handshake failed",
        fields,
      );
    } else this.#o.log.warn("handshake failed", fields);
    if (send !== undefined && this.#o.socket.readyState === WebSocket.OPEN) {
      this.#o.socket.send(JSON.stringify(send));
    }
    this.#shutdown(`handshake failed (${failure}): ${message}`, code);
  }

  #failFrame(error: FrameError, detail: string): void {
    if (this.#state !== "open") return;
    this.#o.counters.frameRejected(error);
    this.#o.log.warn("frame rejected, closing connection", {
      kind: this.kind,
      peer: this.peerId,
      remote: this.remote,
      reason: error,
      detail,
    });
    this.#shutdown(
      `frame rejected (${error}): ${detail}`,
      error === "too_large" ? 1009 : 1008,
    );
  }

  #shutdown(reason: string, code: number): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#settle();
    this.#resolveEstablished(false);
    const socket = this.#o.socket;
    try {
      if (socket.readyState === WebSocket.OPEN) {
        socket.close(code, truncateReason(reason));
      } else if (socket.readyState === WebSocket.CONNECTING) {
        socket.close();
      }
    } catch (error: unknown) {
      this.#o.log.debug("socket close failed", { remote: this.remote, error });
    }
    this.#undelivered = [];
    this.#resolveClosed(reason);
  }
}
