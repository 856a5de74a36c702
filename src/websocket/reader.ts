/**
 * The receiving half of either WebSocket end, without I/O: bytes from the
 * other end go in, whole messages and control frames come out, in order.
 * Owns the bounded receive buffer and fragment reassembly, and refuses
 * wrongly masked or malformed frames, oversized messages and messages of
 * too many fragments from the header alone, before their payload is
 * buffered. Never throws on network input; a violation comes out as a
 * `problem` item.
 */

import {
  decodeUtf8,
  FRAME_HEADER_BYTES_MAX,
  joinBytes,
  OPCODE,
  parseClose,
  parseFrameHead,
  unmask,
  type WireProblem,
  type WsRole,
} from "./codec.ts";

/** Bytes read from the socket at a time. */
export const READ_CHUNK_BYTES = 16 * 1024;
/**
 * Frames one message may span. clustd never fragments what it sends; the
 * bound keeps a stream of tiny fragments from costing unbounded work.
 */
export const FRAGMENTS_MAX = 64;

/** What one call of `MessageReader.next` yields. */
export type WireItem =
  | { kind: "text"; text: string }
  | { kind: "binary"; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" }
  | { kind: "close"; code: number; reason: string }
  | ({ kind: "problem" } & WireProblem);

/** Turns server bytes into messages; stop using it after close or problem. */
export class MessageReader {
  /** Largest message, frame headers included. */
  readonly messageBytesMax: number;
  readonly #role: WsRole;
  #buffer: ReceiveBuffer;
  #fragments: Uint8Array[] = [];
  /** Bytes of the message so far, headers of its frames included. */
  #fragmentBytes = 0;
  #fragmentOpcode = 0;

  constructor(messageBytesMax: number, role: WsRole = "client") {
    this.messageBytesMax = messageBytesMax;
    this.#role = role;
    // An unfinished frame (header plus at most the largest payload) and
    // one read chunk is all that can ever be waiting.
    this.#buffer = new ReceiveBuffer(
      messageBytesMax + FRAME_HEADER_BYTES_MAX + READ_CHUNK_BYTES,
    );
  }

  /** Adds received bytes; a problem only if the bound would be passed. */
  push(chunk: Uint8Array): WireProblem | undefined {
    if (this.#buffer.push(chunk)) return undefined;
    return { code: 1009, message: "receive buffer overflow" };
  }

  /** The next complete item, or undefined until more bytes arrive. */
  next(): WireItem | undefined {
    for (;;) {
      const bytes = this.#buffer.view();
      const head = parseFrameHead(bytes, this.#role);
      if (head === undefined) return undefined;
      if ("message" in head) return { kind: "problem", ...head };
      const isData = head.opcode < OPCODE.close;
      const total = head.headerBytes + head.payloadBytes;
      if (isData) {
        const problem = this.#checkData(head.opcode, total);
        if (problem !== undefined) return { kind: "problem", ...problem };
      }
      if (bytes.length < total) return undefined;
      const payload = bytes.slice(head.headerBytes, total);
      if (head.mask !== undefined) unmask(payload, head.mask);
      this.#buffer.drop(total);
      const item = isData
        ? this.#data(head, payload)
        : control(head.opcode, payload);
      if (item !== undefined) return item;
    }
  }

  /** Checks a data frame of `frameBytes` (header included) from its header. */
  #checkData(opcode: number, frameBytes: number): WireProblem | undefined {
    if (opcode === OPCODE.continuation && this.#fragmentOpcode === 0) {
      return { code: 1002, message: "continuation frame with no message" };
    }
    if (opcode !== OPCODE.continuation && this.#fragmentOpcode !== 0) {
      return { code: 1002, message: "new message inside a fragmented one" };
    }
    if (this.#fragments.length >= FRAGMENTS_MAX) {
      return {
        code: 1009,
        message: `message of more than ${FRAGMENTS_MAX} fragments`,
      };
    }
    // Headers count too, so empty fragments are not free.
    const total = this.#fragmentBytes + frameBytes;
    if (total > this.messageBytesMax) {
      return {
        code: 1009,
        message:
          `message of ${total} bytes or more exceeds ${this.messageBytesMax}`,
      };
    }
    return undefined;
  }

  #data(
    head: { opcode: number; fin: boolean; headerBytes: number },
    payload: Uint8Array<ArrayBuffer>,
  ): WireItem | undefined {
    const { opcode, fin } = head;
    if (opcode !== OPCODE.continuation) this.#fragmentOpcode = opcode;
    this.#fragments.push(payload);
    this.#fragmentBytes += head.headerBytes + payload.length;
    if (!fin) return undefined;
    const kind = this.#fragmentOpcode;
    const parts = this.#fragments;
    const message = parts.length === 1 ? payload : joinBytes(parts);
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentOpcode = 0;
    if (kind === OPCODE.binary) return { kind: "binary", bytes: message };
    const text = decodeUtf8(message);
    if (text !== undefined) return { kind: "text", text };
    return { kind: "problem", code: 1007, message: "text is not UTF-8" };
  }
}

function control(opcode: number, payload: Uint8Array): WireItem {
  if (opcode === OPCODE.ping) return { kind: "ping", payload };
  if (opcode === OPCODE.pong) return { kind: "pong" };
  const close = parseClose(payload);
  return "message" in close
    ? { kind: "problem", ...close }
    : { kind: "close", ...close };
}

/** A FIFO of received bytes that refuses to grow past `bytesMax`. */
export class ReceiveBuffer {
  #bytes = new Uint8Array(0);
  #start = 0;
  #end = 0;
  readonly bytesMax: number;

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax;
  }

  /** The unread bytes (a view, valid until the next `push`). */
  view(): Uint8Array {
    return this.#bytes.subarray(this.#start, this.#end);
  }

  /** Appends `chunk`; false (and nothing kept) if it would pass the bound. */
  push(chunk: Uint8Array): boolean {
    const unread = this.#end - this.#start;
    if (unread + chunk.length > this.bytesMax) return false;
    if (this.#end + chunk.length > this.#bytes.length) {
      const capacity = Math.min(
        this.bytesMax,
        Math.max(2 * (unread + chunk.length), 4096),
      );
      if (capacity > this.#bytes.length) {
        const next = new Uint8Array(capacity);
        next.set(this.#bytes.subarray(this.#start, this.#end), 0);
        this.#bytes = next;
      } else this.#bytes.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = unread;
    }
    this.#bytes.set(chunk, this.#end);
    this.#end += chunk.length;
    return true;
  }

  /** Removes `count` bytes from the front. */
  drop(count: number): void {
    this.#start = Math.min(this.#start + count, this.#end);
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }
}
