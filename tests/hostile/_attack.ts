/**
 * Attacker tools for the hostile-input suite: raw TCP clients bound to
 * other loopback addresses (127.0.0.2, 127.0.0.3, ...) through node:net
 * (Deno.connect cannot choose its local address), WebSocket upgrades and
 * hand-made frames. Every loop is bounded in count and time; every socket
 * is destroyed by `closeAll`.
 */

import net from "node:net";
import { sleep } from "../_process.ts";

/** A raw client connection. */
export class RawClient {
  readonly socket: net.Socket;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** Bytes received so far (kept only up to `RECEIVED_KEEP_MAX`). */
  received = "";
  closedAtMs: number | null = null;
  static readonly RECEIVED_KEEP_MAX = 4096;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.closedAtMs = performance.now();
        resolve();
      });
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => {
      if (this.received.length < RawClient.RECEIVED_KEEP_MAX) {
        this.received += new TextDecoder("latin1").decode(chunk);
      }
    });
  }

  /** Connects from `localAddress` to 127.0.0.1:`port`; null when refused. */
  static connect(localAddress: string, port: number): Promise<RawClient> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress });
      const client = new RawClient(socket);
      socket.once("connect", () => resolve(client));
      socket.once("error", () => resolve(client));
    });
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.closedAtMs !== null;
  }

  /** Writes `bytes`; resolves when the kernel took them or the socket is gone. */
  write(bytes: Uint8Array | string): Promise<boolean> {
    if (this.isClosed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const flushed = this.socket.write(bytes, () => resolve(!this.isClosed));
      if (flushed) return;
      // Wait for drain or close, whichever comes first.
      const done = () => resolve(!this.isClosed);
      this.socket.once("drain", done);
      void this.closed.then(done);
    });
  }

  /** Sends a WebSocket upgrade for `path`; resolves true on a 101 within `timeoutMs`. */
  async upgrade(path: string, timeoutMs = 2000): Promise<boolean> {
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    await this.write(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    );
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && !this.isClosed) {
      if (this.received.includes("\r\n\r\n")) {
        return this.received.startsWith("HTTP/1.1 101");
      }
      await sleep(5);
    }
    return false;
  }

  /** Destroys the socket. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** A masked client frame header (and `payload`, masked with zeros). */
export function clientFrame(
  opcode: number,
  fin: boolean,
  payloadBytes: number,
  payload?: Uint8Array,
): Uint8Array {
  const lengthBytes = payloadBytes < 126 ? 0 : payloadBytes <= 0xffff ? 2 : 8;
  const head = new Uint8Array(2 + lengthBytes + 4);
  head[0] = (fin ? 0x80 : 0) | opcode;
  const view = new DataView(head.buffer);
  if (lengthBytes === 0) head[1] = 0x80 | payloadBytes;
  else if (lengthBytes === 2) {
    head[1] = 0x80 | 126;
    view.setUint16(2, payloadBytes);
  } else {
    head[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(payloadBytes));
  }
  // A zero mask leaves the payload as is.
  if (payload === undefined) return head;
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head);
  frame.set(payload, head.length);
  return frame;
}

/** A syntactically valid hello from someone without the secret. */
export function forgedHello(id: string): Uint8Array {
  const b64 = () => crypto.getRandomValues(new Uint8Array(32)).toBase64();
  const text = JSON.stringify({
    type: "hello",
    version: 1,
    kind: "peer",
    id,
    ephemeral: b64(),
    random: b64(),
    digest: b64(),
  });
  return clientFrame(0x1, true, text.length, new TextEncoder().encode(text));
}

/** Destroys every client and waits (bounded) until they are closed. */
export async function closeAll(clients: RawClient[]): Promise<void> {
  for (const client of clients) client.destroy();
  await Promise.race([
    Promise.all(clients.map((c) => c.closed)),
    sleep(2000),
  ]);
}

/** Attacker addresses: 127.0.0.2, 127.0.0.3, ... (`count` of them). */
export function attackerAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
}
