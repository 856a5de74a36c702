/**
 * The accepting WebSocket: answers a checked upgrade request on a raw
 * connection the HTTP listener read the request head from, then behaves
 * as `WsSocket` (plain frames out, masked frames in, the TCP connection
 * closed right after our close frame). Exists because Deno's
 * `Deno.upgradeWebSocket` buffers a whole message (up to 64 MiB a frame,
 * any number of fragments) before the application sees a byte of it, so
 * no size limit can be enforced from the frame header there.
 */

import { acceptKey, checkUpgradeRequest, upgradeResponse } from "./codec.ts";
import { writeAll, WsSocket, type WsSocketOptions } from "./socket.ts";

export { checkUpgradeRequest } from "./codec.ts";

/**
 * Bytes a server socket may queue for a client that does not read: with
 * 64 unauthenticated connections at most 16 MB in all.
 */
export const WS_SERVER_SEND_QUEUE_BYTES_MAX = 256 * 1024;
/** Time to write the 101 response before giving up on the client. */
export const WS_SERVER_OPEN_TIMEOUT_MS = 5000;

/** The server end of one WebSocket; see the module comment. */
export class WsServerSocket extends WsSocket {
  /**
   * Answers the upgrade whose headers passed `checkUpgradeRequest` on
   * `conn`; `buffered` holds bytes the client sent after its request head.
   * `remote` names the client in messages.
   */
  constructor(
    conn: Deno.Conn,
    request: { headers: Headers; buffered: Uint8Array; remote: string },
    options: WsSocketOptions = {},
  ) {
    const problem = checkUpgradeRequest(request.headers);
    if (problem !== undefined) throw new RangeError(problem);
    const key = request.headers.get("sec-websocket-key")!;
    super(request.remote, "server", async (opening) => {
      opening.adopt(conn);
      const accept = await acceptKey(key);
      opening.check();
      await writeAll(conn, upgradeResponse(accept));
      return { conn, buffered: request.buffered };
    }, {
      openTimeoutMs: WS_SERVER_OPEN_TIMEOUT_MS,
      sendQueueBytesMax: WS_SERVER_SEND_QUEUE_BYTES_MAX,
      ...options,
    });
  }
}
