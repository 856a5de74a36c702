/**
 * RFC 6455 wire format for both ends of clustd's own WebSocket: the opening
 * handshake (request, the check of the server's answer, the server's 101),
 * the frame encoder (masked from a client, plain from a server), the frame
 * header parser and close payloads.
 * Pure apart from WebCrypto's SHA-1; never touches a socket and never
 * throws on bad input from the network: it returns a described problem.
 *
 * Why clustd frames WebSockets itself: Deno's server upgrade buffers whole
 * messages (64 MiB a frame, unlimited fragments) before the application
 * sees them, its client leaves Nagle's algorithm on, and npm's `ws` needs
 * Node's http server and would still be a second HTTP stack beside the
 * probes. RFC 6455 without extensions is small: this folder is the codec,
 * a bounded reader, and one socket class with a client and a server opener.
 */

/** Frame opcodes (RFC 6455 §5.2). */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Longest payload of a control frame (RFC 6455 §5.5). */
export const CONTROL_PAYLOAD_BYTES_MAX = 125;
/** Longest reason a close frame can carry after its 2-byte code. */
export const CLOSE_REASON_BYTES_MAX = CONTROL_PAYLOAD_BYTES_MAX - 2;
/** Longest frame header: 2 bytes, a 64-bit length, a 4-byte mask. */
export const FRAME_HEADER_BYTES_MAX = 14;
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const LENGTH_16_MAX = 0xffff;

/** A protocol violation by the other end: the close code to send and why. */
export interface WireProblem {
  code: number;
  message: string;
}

/** Which end parses: a server receives masked frames, a client plain ones. */
export type WsRole = "client" | "server";

/** The bytes of `parts`, in order, in one new array (no argument spreading). */
export function joinBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The `Sec-WebSocket-Accept` a server must return for `key`. */
export async function acceptKey(key: string): Promise<string> {
  const input = new TextEncoder().encode(key + ACCEPT_GUID);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", input))
    .toBase64();
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes in base64. */
export function newClientKey(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toBase64();
}

/** The server's `101 Switching Protocols` head for an accepted upgrade. */
export function upgradeResponse(accept: string): Uint8Array {
  return new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
}

/**
 * Checks a client's upgrade request headers (RFC 6455 §4.2.1); returns
 * what is wrong, or undefined. The request line was checked by the caller.
 */
export function checkUpgradeRequest(headers: Headers): string | undefined {
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return 'the request lacks "Upgrade: websocket"';
  }
  const connection = (headers.get("connection") ?? "").toLowerCase();
  if (!connection.split(",").some((token) => token.trim() === "upgrade")) {
    return 'the request lacks "Connection: Upgrade"';
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return 'the request lacks "Sec-WebSocket-Version: 13"';
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return "the request's Sec-WebSocket-Key is not 16 bytes of base64";
  }
  return undefined;
}

/** The HTTP/1.1 upgrade request for `target` (a `ws:`/`wss:` URL). */
export function handshakeRequest(target: URL, key: string): Uint8Array {
  const path = `${target.pathname || "/"}${target.search}`;
  return new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\n` +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

/** Index just past the `\r\n\r\n` ending an HTTP head, or -1. */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

/**
 * Checks the server's response head (status line and headers, without the
 * blank line) against RFC 6455 §4.1; returns what is wrong, or undefined.
 */
export function checkHandshakeResponse(
  head: string,
  expectedAccept: string,
): string | undefined {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(statusLine);
  if (status === null) {
    return `the server did not answer in HTTP/1.1 ("${
      statusLine.slice(0, 80)
    }")`;
  }
  if (status[1] !== "101") {
    return `the server answered "${status[1]} ${
      (status[2] ?? "").slice(0, 80)
    }" instead of "101 Switching Protocols": not a WebSocket endpoint`;
  }
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return 'the server\'s 101 response lacks "Upgrade: websocket"';
  }
  const connection = (headers.get("connection") ?? "").toLowerCase();
  if (!connection.split(",").some((token) => token.trim() === "upgrade")) {
    return 'the server\'s 101 response lacks "Connection: Upgrade"';
  }
  const accept = headers.get("sec-websocket-accept");
  if (accept !== expectedAccept) {
    return `the server sent Sec-WebSocket-Accept "${
      (accept ?? "").slice(0, 80)
    }", expected "${expectedAccept}"`;
  }
  // We offered no extension and no subprotocol, so the server may pick none.
  for (const name of ["sec-websocket-extensions", "sec-websocket-protocol"]) {
    if (headers.has(name)) return `the server chose a ${name} we never offered`;
  }
  return undefined;
}

/**
 * One unfragmented frame: masked with `mask` (4 fresh random bytes) from a
 * client, plain from a server (`mask` undefined).
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array | undefined,
): Uint8Array<ArrayBuffer> {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length <= LENGTH_16_MAX ? 2 : 8;
  const maskBytes = mask === undefined ? 0 : 4;
  const headerBytes = 2 + lengthBytes + maskBytes;
  const frame = new Uint8Array(headerBytes + length);
  frame[0] = 0x80 | opcode;
  const maskBit = mask === undefined ? 0 : 0x80;
  const view = new DataView(frame.buffer);
  if (lengthBytes === 0) frame[1] = maskBit | length;
  else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = maskBit | 127;
    view.setBigUint64(2, BigInt(length));
  }
  if (mask === undefined) {
    frame.set(payload, headerBytes);
    return frame;
  }
  frame.set(mask.subarray(0, 4), headerBytes - 4);
  for (let i = 0; i < length; i++) {
    frame[headerBytes + i] = payload[i]! ^ mask[i & 3]!;
  }
  return frame;
}

/** XORs `payload` in place with the 4-byte `mask` (RFC 6455 §5.3). */
export function unmask(payload: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
}

/** A parsed frame header. */
export interface FrameHead {
  fin: boolean;
  opcode: number;
  /** Header length, the mask included. */
  headerBytes: number;
  payloadBytes: number;
  /** The client's 4-byte mask (server role only). */
  mask: Uint8Array | undefined;
}

/**
 * Parses the header at the start of `bytes` as `role` receives it:
 * undefined when more bytes are needed, a problem when the other end broke
 * the protocol. Sizes are checked against the header before any payload
 * is buffered.
 */
export function parseFrameHead(
  bytes: Uint8Array,
  role: WsRole = "client",
): FrameHead | WireProblem | undefined {
  if (bytes.length < 2) return undefined;
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  const sender = role === "client" ? "server" : "client";
  if ((b0 & 0x70) !== 0) {
    return { code: 1002, message: `${sender} frame has reserved bits set` };
  }
  const masked = (b1 & 0x80) !== 0;
  if (masked !== (role === "server")) {
    return {
      code: 1002,
      message: `${sender} frame is ${masked ? "masked" : "not masked"}`,
    };
  }
  if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(opcode)) {
    return { code: 1002, message: `${sender} frame has opcode ${opcode}` };
  }
  let payloadBytes = b1 & 0x7f;
  let headerBytes = 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (payloadBytes === 126) {
    if (bytes.length < 4) return undefined;
    payloadBytes = view.getUint16(2);
    headerBytes = 4;
  } else if (payloadBytes === 127) {
    if (bytes.length < 10) return undefined;
    const length = view.getBigUint64(2);
    // Anything past 2^53 is absurd; clamp so the size check refuses it.
    payloadBytes = length > BigInt(Number.MAX_SAFE_INTEGER)
      ? Number.MAX_SAFE_INTEGER
      : Number(length);
    headerBytes = 10;
  }
  if (opcode >= 0x8 && (!fin || payloadBytes > CONTROL_PAYLOAD_BYTES_MAX)) {
    return {
      code: 1002,
      message:
        `${sender} control frame is fragmented or over ${CONTROL_PAYLOAD_BYTES_MAX} bytes`,
    };
  }
  if (!masked) {
    return { fin, opcode, headerBytes, payloadBytes, mask: undefined };
  }
  if (bytes.length < headerBytes + 4) return undefined;
  const mask = bytes.slice(headerBytes, headerBytes + 4);
  return { fin, opcode, headerBytes: headerBytes + 4, payloadBytes, mask };
}

/** Whether `code` may travel in a close frame (RFC 6455 §7.4). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** The payload of a close frame: code then UTF-8 reason, or empty. */
export function encodeClose(code: number | undefined, reason: string) {
  if (code === undefined) return new Uint8Array(0);
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(text, 2);
  return payload;
}

/** Code and reason of a received close frame (1005 when it has none). */
export function parseClose(
  payload: Uint8Array,
): { code: number; reason: string } | WireProblem {
  if (payload.length === 0) return { code: 1005, reason: "" };
  if (payload.length === 1) {
    return { code: 1002, message: "close frame has a 1-byte payload" };
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isSendableCloseCode(code)) {
    return { code: 1002, message: `close frame has code ${code}` };
  }
  const reason = decodeUtf8(payload.subarray(2));
  if (reason === undefined) {
    return { code: 1007, message: "close reason is not UTF-8" };
  }
  return { code, reason };
}

/** Strict UTF-8 decoding; undefined on invalid input. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (_error: unknown) {
    // Invalid UTF-8 is the caller's protocol error to report.
    return undefined;
  }
}
