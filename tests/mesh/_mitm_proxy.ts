/**
 * A man-in-the-middle TCP proxy for tests: forwards 127.0.0.1 connections to
 * a target, parses the client→server WebSocket framing, and applies one
 * planned fault per proxied connection (duplicate, drop or flip a byte of
 * one binary frame). Server→client bytes pass through untouched.
 */

/** What to do to one binary frame of one connection. */
export type Fault = "duplicate" | "drop" | "flip" | "none";

/** Bounds the bytes buffered while waiting for a whole frame. */
const PENDING_BYTES_MAX = 1 << 20;

interface WsFrame {
  bytes: Uint8Array;
  opcode: number;
  payloadStart: number;
}

/** Splits complete WebSocket frames off the front of `buffer`. */
function takeFrame(buffer: Uint8Array): WsFrame | undefined {
  if (buffer.length < 2) return undefined;
  const b0 = buffer[0]!;
  const b1 = buffer[1]!;
  if ((b0 & 0x70) !== 0) throw new Error("unexpected RSV bits (compression?)");
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = (buffer[2]! << 8) | buffer[3]!;
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(
      new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0),
    );
    offset = 10;
  }
  const payloadStart = offset + ((b1 & 0x80) !== 0 ? 4 : 0);
  const total = payloadStart + length;
  if (buffer.length < total) return undefined;
  return { bytes: buffer.slice(0, total), opcode: b0 & 0x0f, payloadStart };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function headerEnd(buffer: Uint8Array): number {
  for (let i = 3; i < buffer.length; i++) {
    if (
      buffer[i - 3] === 13 && buffer[i - 2] === 10 && buffer[i - 1] === 13 &&
      buffer[i] === 10
    ) {
      return i + 1;
    }
  }
  return -1;
}

/** A running proxy. */
export class MitmProxy {
  readonly port: number;
  /** Faults actually applied, in order. */
  readonly applied: Fault[] = [];
  #listener: Deno.TcpListener;
  #plan: Fault[];
  #targetPort: number;
  #faultAtFrame: number;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  /** Faults in `plan` apply to the 1st, 2nd, ... proxied connection. */
  constructor(targetPort: number, plan: Fault[], faultAtFrame = 3) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#targetPort = targetPort;
    this.#plan = [...plan];
    this.#faultAtFrame = faultAtFrame;
    this.#accepting = this.#acceptLoop();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) this.#closeConn(conn);
    await this.#accepting;
    await Promise.all([...this.#tasks]);
  }

  #closeConn(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch (_error: unknown) {
      // Already closed by the other pump.
    }
  }

  async #acceptLoop(): Promise<void> {
    for (let accepted = 0; accepted < 1000; accepted++) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch (_error: unknown) {
        return; // listener closed
      }
      const fault = this.#plan.shift() ?? "none";
      const task = this.#proxy(client, fault);
      this.#tasks.add(task);
      void task.finally(() => this.#tasks.delete(task));
    }
  }

  async #proxy(client: Deno.Conn, fault: Fault): Promise<void> {
    this.#conns.add(client);
    let server: Deno.Conn;
    try {
      server = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.#targetPort,
      });
    } catch (_error: unknown) {
      this.#closeConn(client);
      return;
    }
    this.#conns.add(server);
    await Promise.all([
      this.#pump(server, client, () => [], true),
      this.#clientToServer(client, server, fault),
    ]);
  }

  async #pump(
    from: Deno.Conn,
    to: Deno.Conn,
    transform: (chunk: Uint8Array) => Uint8Array[],
    raw: boolean,
  ): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(chunk);
        if (n === null) break;
        const parts = raw ? [chunk.slice(0, n)] : transform(chunk.slice(0, n));
        for (const part of parts) {
          let written = 0;
          while (written < part.length) {
            written += await to.write(part.subarray(written));
          }
        }
      }
    } catch (_error: unknown) {
      // One side closed; close both below.
    }
    this.#closeConn(from);
    this.#closeConn(to);
  }

  #clientToServer(
    client: Deno.Conn,
    server: Deno.Conn,
    fault: Fault,
  ): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    let upgraded = false;
    let binaryFrames = 0;
    return this.#pump(client, server, (chunk) => {
      pending = concat(pending, chunk);
      if (pending.length > PENDING_BYTES_MAX) {
        throw new Error("proxy buffer overflow");
      }
      const out: Uint8Array[] = [];
      if (!upgraded) {
        const end = headerEnd(pending);
        if (end < 0) return out;
        out.push(pending.slice(0, end));
        pending = pending.slice(end);
        upgraded = true;
      }
      for (
        let frame = takeFrame(pending);
        frame !== undefined;
        frame = takeFrame(pending)
      ) {
        pending = pending.slice(frame.bytes.length);
        const isData = frame.opcode === 2;
        if (isData) binaryFrames += 1;
        if (
          !isData || binaryFrames !== this.#faultAtFrame || fault === "none"
        ) {
          out.push(frame.bytes);
          continue;
        }
        this.applied.push(fault);
        if (fault === "duplicate") out.push(frame.bytes, frame.bytes);
        if (fault === "flip") {
          // Masking is an XOR, so flipping a masked byte flips the same bit
          // of the payload: here a ciphertext byte after the 8-byte counter.
          const bytes = frame.bytes.slice();
          bytes[frame.payloadStart + 10]! ^= 0x01;
          out.push(bytes);
        }
        // "drop": forward nothing.
      }
      return out;
    }, false);
  }
}
