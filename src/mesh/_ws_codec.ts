/**
 * RFC 6455 wire format for the mesh's own WebSocket client
 * (`_ws_client.ts`): the opening handshake request and the check of the
 * server's answer, the client frame encoder (always masked), the server
 * frame header parser and close payloads.
 * Pure apart from WebCrypto's SHA-1; never touches a socket and never
 * throws on bad input from the network: it returns a described problem.
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

/** A protocol violation by the server: the close code to send and why. */
export interface WireProblem {
  code: number;
  message: string;
}

/** Standard base64 of `bytes`. */
export function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** The `Sec-WebSocket-Accept` a server must return for `key`. */
export async function acceptKey(key: string): Promise<string> {
  const input = new TextEncoder().encode(key + ACCEPT_GUID);
  return base64(new Uint8Array(await crypto.subtle.digest("SHA-1", input)));
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

/** One masked client frame; `mask` is 4 fresh random bytes. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length <= LENGTH_16_MAX ? 2 : 8;
  const headerBytes = 2 + lengthBytes + 4;
  const frame = new Uint8Array(headerBytes + length);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(length));
  }
  frame.set(mask.subarray(0, 4), headerBytes - 4);
  for (let i = 0; i < length; i++) {
    frame[headerBytes + i] = payload[i]! ^ mask[i & 3]!;
  }
  return frame;
}

/** A parsed server frame header. */
export interface FrameHead {
  fin: boolean;
  opcode: number;
  headerBytes: number;
  payloadBytes: number;
}

/**
 * Parses the header at the start of `bytes`: undefined when more bytes
 * are needed, a problem when the server broke the protocol. Sizes are
 * checked against the header before any payload is buffered.
 */
export function parseFrameHead(
  bytes: Uint8Array,
): FrameHead | WireProblem | undefined {
  if (bytes.length < 2) return undefined;
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  if ((b0 & 0x70) !== 0) {
    return { code: 1002, message: "server frame has reserved bits set" };
  }
  if ((b1 & 0x80) !== 0) {
    return { code: 1002, message: "server frame is masked" };
  }
  if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(opcode)) {
    return { code: 1002, message: `server frame has opcode ${opcode}` };
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
        `server control frame is fragmented or over ${CONTROL_PAYLOAD_BYTES_MAX} bytes`,
    };
  }
  return { fin, opcode, headerBytes, payloadBytes };
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
    return { code: 1002, message: "server close frame has a 1-byte payload" };
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isSendableCloseCode(code)) {
    return { code: 1002, message: `server close frame has code ${code}` };
  }
  const reason = decodeUtf8(payload.subarray(2));
  if (reason === undefined) {
    return { code: 1007, message: "server close reason is not UTF-8" };
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
