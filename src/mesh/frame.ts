/**
 * The sealed frame codec: one JSON message → one AES-256-GCM sealed frame.
 *
 * Frame = counter (8 bytes, big-endian) ‖ ciphertext ‖ tag (16 bytes).
 * Nonce = 4 zero bytes ‖ counter; the counter header is also the AAD. Each
 * direction has its own key and counter; the receiver accepts only exactly
 * the next counter, so a replayed, reordered, dropped or forged frame fails.
 * Every `ratchetIntervalFrames` frames the direction's chain key is replaced
 * by HKDF(chain) and the old one is erased, long before a (key, nonce) pair
 * could repeat. Owns no socket.
 *
 * Sealing and opening are synchronous (node:crypto's AES-GCM and HKDF, Rust
 * code inside Deno, wire-identical to WebCrypto's): a WebCrypto call is a
 * round trip through a thread pool, and at idle those hand-offs, one per
 * frame, were most of the daemon's CPU (README, Idle CPU).
 */

import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { FRAME_HEADER_BYTES_MAX } from "../websocket/codec.ts";

/** Largest frame on the wire, sealed; larger ones are refused both ways. */
export const FRAME_BYTES_MAX = 64 * 1024;
/** Bytes of the counter header. */
export const FRAME_HEADER_BYTES = 8;
/** Bytes of the AES-GCM tag. */
export const FRAME_TAG_BYTES = 16;
/** Sealing overhead per frame (header + tag), excluding WebSocket framing. */
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + FRAME_TAG_BYTES;
/** Largest plaintext (UTF-8 JSON) one frame carries. */
export const PLAINTEXT_BYTES_MAX = FRAME_BYTES_MAX - FRAME_OVERHEAD_BYTES;

/**
 * The WebSocket message limit that carries every frame up to
 * `FRAME_BYTES_MAX` (with its longest WebSocket header) and nothing larger.
 */
export const WS_MESSAGE_BYTES_MAX = FRAME_BYTES_MAX + FRAME_HEADER_BYTES_MAX;
/** Default frames per key before the ratchet; far below GCM's limits. */
export const RATCHET_INTERVAL_FRAMES_DEFAULT = 1 << 20;
/** The counter never goes past this (a JS-safe integer); the channel closes. */
export const COUNTER_MAX = Number.MAX_SAFE_INTEGER;

/** Why a received frame was rejected; also the metrics label. */
export type FrameError =
  | "too_large"
  | "truncated"
  | "replayed"
  | "out_of_order"
  | "tampered"
  | "malformed"
  | "exhausted";

/** Outcome of opening one frame. */
export type OpenResult =
  | { ok: true; message: unknown; counter: number }
  | { ok: false; error: FrameError; detail: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const EMPTY_SALT = new Uint8Array(0);

/** One direction's key state: chain key, current AES key and epoch. */
class DirectionKey {
  #chain: Uint8Array<ArrayBuffer>;
  #aes: Uint8Array | undefined;
  #epoch = -1;
  readonly #interval: number;

  constructor(chainKey: Uint8Array<ArrayBuffer>, interval: number) {
    if (!Number.isInteger(interval) || interval < 1) {
      throw new RangeError(
        `ratchetIntervalFrames must be ≥ 1, got ${interval}`,
      );
    }
    this.#chain = chainKey.slice();
    this.#interval = interval;
  }

  /** Ratchets forward to the epoch of `counter` and returns its AES key. */
  keyFor(counter: number): Uint8Array {
    const epoch = Math.floor(counter / this.#interval);
    while (this.#epoch < epoch || this.#aes === undefined) {
      if (this.#epoch >= 0) {
        const next = derive(this.#chain, "clustd/1 ratchet");
        this.#chain.fill(0);
        this.#chain = next;
      }
      this.#aes?.fill(0);
      this.#aes = derive(this.#chain, "clustd/1 frame key");
      this.#epoch += 1;
    }
    return this.#aes;
  }

  /** How many ratchet steps were taken (0 before the first interval ends). */
  get ratchets(): number {
    return Math.max(0, this.#epoch);
  }
}

/** HKDF-SHA-256 (empty salt) of `chain` into 32 bytes. */
function derive(
  chain: Uint8Array<ArrayBuffer>,
  info: string,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    hkdfSync("sha256", chain, EMPTY_SALT, encoder.encode(info), 32),
  );
}

function nonceFor(header: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  nonce.set(header, 4);
  return nonce;
}

function headerFor(counter: number): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setBigUint64(0, BigInt(counter));
  return header;
}

/** Options shared by sealer and opener. */
export interface FrameCodecOptions {
  /** Frames per key before ratcheting; tests use small values. */
  ratchetIntervalFrames?: number;
}

/** What sealer and opener share: the ratcheting key of one direction. */
abstract class FrameDirection {
  protected readonly key: DirectionKey;

  constructor(
    chainKey: Uint8Array<ArrayBuffer>,
    options: FrameCodecOptions = {},
  ) {
    this.key = new DirectionKey(
      chainKey,
      options.ratchetIntervalFrames ?? RATCHET_INTERVAL_FRAMES_DEFAULT,
    );
  }

  /** Ratchet steps taken so far. */
  get ratchets(): number {
    return this.key.ratchets;
  }
}

/** Seals outgoing messages of one direction. */
export class FrameSealer extends FrameDirection {
  #counter = 0;

  /** Counter the next sealed frame will carry. */
  get nextCounter(): number {
    return this.#counter;
  }

  /**
   * Encodes a message as UTF-8 JSON; undefined when it cannot be encoded or
   * does not fit one frame (the caller refuses to send it).
   */
  static encode(message: unknown): Uint8Array<ArrayBuffer> | undefined {
    let json: string | undefined;
    try {
      json = JSON.stringify(message);
    } catch (_error: unknown) {
      // Cyclic or BigInt: not a wire message.
      return undefined;
    }
    if (json === undefined) return undefined;
    const bytes = encoder.encode(json);
    return bytes.length > PLAINTEXT_BYTES_MAX ? undefined : bytes;
  }

  /** Seals pre-encoded plaintext under the next counter. */
  seal(plaintext: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    if (plaintext.length > PLAINTEXT_BYTES_MAX) {
      throw new RangeError(
        `plaintext of ${plaintext.length} bytes exceeds one frame`,
      );
    }
    if (this.#counter >= COUNTER_MAX) {
      throw new RangeError("frame counter exhausted; reconnect");
    }
    const counter = this.#counter++;
    const header = headerFor(counter);
    const cipher = createCipheriv(
      "aes-256-gcm",
      this.key.keyFor(counter),
      nonceFor(header),
      { authTagLength: FRAME_TAG_BYTES },
    );
    cipher.setAAD(header);
    const body = cipher.update(plaintext);
    cipher.final();
    const frame = new Uint8Array(
      FRAME_HEADER_BYTES + body.length + FRAME_TAG_BYTES,
    );
    frame.set(header, 0);
    frame.set(body, FRAME_HEADER_BYTES);
    frame.set(cipher.getAuthTag(), FRAME_HEADER_BYTES + body.length);
    return frame;
  }
}

/** Opens incoming frames of one direction, accepting only the next counter. */
export class FrameOpener extends FrameDirection {
  #expected = 0;

  /** Counter the next frame must carry. */
  get expectedCounter(): number {
    return this.#expected;
  }

  /** Verifies and decrypts one frame; any failure is final for the connection. */
  open(frame: Uint8Array<ArrayBuffer>): OpenResult {
    if (frame.length > FRAME_BYTES_MAX) {
      return {
        ok: false,
        error: "too_large",
        detail: `frame of ${frame.length} bytes exceeds ${FRAME_BYTES_MAX}`,
      };
    }
    if (frame.length < FRAME_OVERHEAD_BYTES) {
      return {
        ok: false,
        error: "truncated",
        detail:
          `frame of ${frame.length} bytes is shorter than its header and tag`,
      };
    }
    const header = frame.slice(0, FRAME_HEADER_BYTES);
    const counterBig = new DataView(header.buffer).getBigUint64(0);
    const expected = this.#expected;
    if (counterBig < BigInt(expected)) {
      return {
        ok: false,
        error: "replayed",
        detail:
          `frame counter ${counterBig} was already used (expected ${expected})`,
      };
    }
    if (counterBig > BigInt(expected)) {
      return {
        ok: false,
        error: "out_of_order",
        detail: `frame counter ${counterBig} skips ahead of ${expected}: ` +
          `a frame was dropped or reordered`,
      };
    }
    if (expected >= COUNTER_MAX) {
      return {
        ok: false,
        error: "exhausted",
        detail: "frame counter exhausted",
      };
    }
    const tagAt = frame.length - FRAME_TAG_BYTES;
    let plaintext: Uint8Array;
    try {
      const decipher = createDecipheriv(
        "aes-256-gcm",
        this.key.keyFor(expected),
        nonceFor(header),
        { authTagLength: FRAME_TAG_BYTES },
      );
      decipher.setAAD(header);
      decipher.setAuthTag(frame.subarray(tagAt));
      plaintext = decipher.update(frame.subarray(FRAME_HEADER_BYTES, tagAt));
      // Throws on a tag mismatch; nothing of `plaintext` is used before.
      decipher.final();
    } catch (_error: unknown) {
      // GCM tag mismatch: modified, truncated or sealed under another key.
      return {
        ok: false,
        error: "tampered",
        detail:
          `frame ${expected} failed authentication (tampered, truncated or wrong key)`,
      };
    }
    this.#expected = expected + 1;
    try {
      return {
        ok: true,
        message: JSON.parse(decoder.decode(plaintext)),
        counter: expected,
      };
    } catch (_error: unknown) {
      // Authentic but not JSON: the peer is broken, not an attacker.
      return {
        ok: false,
        error: "malformed",
        detail: `frame ${expected} is not UTF-8 JSON`,
      };
    }
  }
}
