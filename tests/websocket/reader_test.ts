/**
 * The receiving half of both WebSocket ends (`src/websocket/reader.ts`):
 * limits checked from the frame header, before payload is buffered, with
 * frame headers counted and fragments capped; masking by role.
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../../src/websocket/codec.ts";
import { FRAGMENTS_MAX, MessageReader } from "../../src/websocket/reader.ts";

const MASK = new Uint8Array([1, 2, 3, 4]);

/** A frame with FIN and opcode as given (`encodeFrame` always sets FIN). */
function frame(
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
  mask?: Uint8Array,
) {
  const bytes = encodeFrame(opcode, payload, mask);
  if (!fin) bytes[0] = bytes[0]! & 0x7f;
  return bytes;
}

Deno.test("MessageReader (server) unmasks client frames and refuses plain ones", () => {
  const reader = new MessageReader(1024, "server");
  reader.push(frame(0x1, true, new TextEncoder().encode("hello"), MASK));
  assert.deepEqual(reader.next(), { kind: "text", text: "hello" });
  reader.push(frame(0x1, true, new TextEncoder().encode("x")));
  const problem = reader.next();
  assert.equal(problem?.kind, "problem");
  assert.match(
    (problem as { message: string }).message,
    /client frame is not masked/,
  );
});

Deno.test("MessageReader refuses a 50 MB message from its header alone", () => {
  const reader = new MessageReader(64 * 1024, "server");
  const head = new Uint8Array([
    0x82,
    0xff,
    0,
    0,
    0,
    0,
    0x03,
    0x20,
    0,
    0,
    1,
    2,
    3,
    4,
  ]);
  reader.push(head);
  const item = reader.next();
  assert.equal(item?.kind, "problem");
  assert.equal((item as { code: number }).code, 1009);
});

Deno.test("MessageReader counts frame headers: empty fragments are not free", () => {
  // 16 bytes allowed: a 2-byte first fragment header plus 7 empty continuations fit.
  const reader = new MessageReader(16, "client");
  reader.push(frame(0x1, false, new Uint8Array(0)));
  for (let i = 0; i < 7; i++) reader.push(frame(0x0, false, new Uint8Array(0)));
  assert.equal(reader.next(), undefined);
  reader.push(frame(0x0, false, new Uint8Array(0)));
  const item = reader.next();
  assert.equal(item?.kind, "problem");
  assert.match((item as { message: string }).message, /exceeds 16/);
});

Deno.test("MessageReader refuses a message of more than FRAGMENTS_MAX fragments", () => {
  const reader = new MessageReader(64 * 1024, "client");
  reader.push(frame(0x2, false, new Uint8Array(1)));
  for (let i = 1; i < FRAGMENTS_MAX; i++) {
    reader.push(frame(0x0, false, new Uint8Array(1)));
  }
  assert.equal(reader.next(), undefined);
  reader.push(frame(0x0, true, new Uint8Array(1)));
  const item = reader.next();
  assert.equal(item?.kind, "problem");
  assert.match(
    (item as { message: string }).message,
    new RegExp(`more than ${FRAGMENTS_MAX} fragments`),
  );
});

Deno.test("MessageReader joins FRAGMENTS_MAX fragments with pings between them", () => {
  const reader = new MessageReader(64 * 1024, "server");
  reader.push(frame(0x1, false, new TextEncoder().encode("a"), MASK));
  for (let i = 1; i < FRAGMENTS_MAX; i++) {
    reader.push(frame(0x9, true, new Uint8Array(0), MASK));
    reader.push(
      frame(0x0, i === FRAGMENTS_MAX - 1, new TextEncoder().encode("b"), MASK),
    );
  }
  const items = [];
  for (let item = reader.next(); item !== undefined; item = reader.next()) {
    items.push(item);
  }
  assert.equal(
    items.filter((i) => i.kind === "ping").length,
    FRAGMENTS_MAX - 1,
  );
  assert.deepEqual(items.at(-1), {
    kind: "text",
    text: "a" + "b".repeat(FRAGMENTS_MAX - 1),
  });
});
