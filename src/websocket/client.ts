/**
 * The dialing WebSocket: connects over `Deno.connect` (or TLS) with
 * TCP_NODELAY set, sends the upgrade and checks the server's answer, then
 * behaves as `WsSocket`. Deno's built-in `WebSocket` leaves Nagle's
 * algorithm on, so a small frame sent behind an unacknowledged one waits
 * for the peer's delayed ACK (15-45 ms on loopback), which delays votes
 * during a failover; it also has no message or fragment limit.
 */

import {
  acceptKey,
  checkHandshakeResponse,
  handshakeRequest,
  headEnd,
  newClientKey,
} from "./codec.ts";
import { ReceiveBuffer } from "./reader.ts";
import {
  type OpenedConn,
  type Opening,
  writeAll,
  WsSocket,
  type WsSocketOptions,
} from "./socket.ts";

export {
  WS_CLOSE_WAIT_MS_DEFAULT,
  WS_MESSAGE_BYTES_MAX_DEFAULT,
  WS_OPEN_TIMEOUT_MS_DEFAULT,
} from "./socket.ts";

/** Longest upgrade response head accepted from a server. */
export const HANDSHAKE_RESPONSE_BYTES_MAX = 16 * 1024;

/** Options of `WsClient`; the defaults suit the mesh. */
export interface WsClientOptions extends WsSocketOptions {
  /** Extra PEM root certificates for `wss:`. */
  caCerts?: string[];
}

/** A WebSocket client with Nagle's algorithm off; see the module comment. */
export class WsClient extends WsSocket {
  /** Starts connecting to `url` (`ws:`, `wss:`, `http:` or `https:`). */
  constructor(url: string | URL, options: WsClientOptions = {}) {
    const target = new URL(url);
    if (target.protocol === "http:") target.protocol = "ws:";
    if (target.protocol === "https:") target.protocol = "wss:";
    if (target.protocol !== "ws:" && target.protocol !== "wss:") {
      throw new DOMException(
        `Only ws: and wss: URLs are supported, got "${target.protocol}"`,
        "SyntaxError",
      );
    }
    if (target.hash !== "") {
      throw new DOMException("A WebSocket URL has no fragment", "SyntaxError");
    }
    super(
      target.href,
      "client",
      (opening) => dial(target, opening, options.caCerts),
      options,
    );
  }
}

/** Connects, upgrades, and returns the bytes that followed the 101 head. */
async function dial(
  target: URL,
  opening: Opening,
  caCerts: string[] | undefined,
): Promise<OpenedConn> {
  const secure = target.protocol === "wss:";
  const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = target.port === "" ? (secure ? 443 : 80) : +target.port;
  const tcp = await Deno.connect({ hostname, port, signal: opening.signal });
  opening.adopt(tcp);
  tcp.setNoDelay(true);
  const conn = secure
    ? await Deno.startTls(tcp, {
      hostname,
      ...(caCerts === undefined ? {} : { caCerts }),
    })
    : tcp;
  opening.adopt(conn);
  const key = newClientKey();
  const expected = await acceptKey(key);
  opening.check();
  await writeAll(conn, handshakeRequest(target, key));
  const head = new ReceiveBuffer(HANDSHAKE_RESPONSE_BYTES_MAX);
  const chunk = new Uint8Array(4096);
  let end = -1;
  while (end < 0) {
    const count = await conn.read(chunk);
    if (count === null) {
      throw new Error("the server closed the connection during the upgrade");
    }
    if (!head.push(chunk.subarray(0, count))) {
      throw new Error(
        `the upgrade response is over ${HANDSHAKE_RESPONSE_BYTES_MAX} bytes`,
      );
    }
    end = headEnd(head.view());
  }
  const text = new TextDecoder().decode(head.view().subarray(0, end - 4));
  const problem = checkHandshakeResponse(text, expected);
  if (problem !== undefined) throw new Error(problem);
  return { conn, buffered: head.view().slice(end) };
}
