/** Seal/open rules of the frame codec (DESIGN §2: every frame sealed, exact counter). */

import assert from "node:assert/strict";
import {
  FRAME_BYTES_MAX,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD_BYTES,
  FRAME_TAG_BYTES,
  FrameOpener,
  FrameSealer,
  PLAINTEXT_BYTES_MAX,
} from "../../src/mesh/frame.ts";

const KEY = new Uint8Array(32).fill(1);
const OTHER_KEY = new Uint8Array(32).fill(2);

function pair(interval?: number): { sealer: FrameSealer; opener: FrameOpener } {
  const options = interval === undefined
    ? {}
    : { ratchetIntervalFrames: interval };
  return {
    sealer: new FrameSealer(KEY, options),
    opener: new FrameOpener(KEY, options),
  };
}

async function seal(
  sealer: FrameSealer,
  message: unknown,
): Promise<Uint8Array<ArrayBuffer>> {
  return await sealer.seal(FrameSealer.encode(message)!);
}

Deno.test("open() returns the sealed message and advances the counter", async () => {
  const { sealer, opener } = pair();
  for (let i = 0; i < 3; i++) {
    const frame = await seal(sealer, { i, text: "hello" });
    assert.equal(
      frame.length,
      JSON.stringify({ i, text: "hello" }).length + FRAME_OVERHEAD_BYTES,
    );
    const result = await opener.open(frame);
    assert.deepEqual(result, {
      ok: true,
      message: { i, text: "hello" },
      counter: i,
    });
  }
  assert.equal(opener.expectedCounter, 3);
});

Deno.test("open() rejects a flipped bit in every region of a frame", async () => {
  const regions = [
    { name: "counter header", index: (_n: number) => FRAME_HEADER_BYTES - 1 },
    { name: "counter high byte", index: (_n: number) => 0 },
    { name: "ciphertext", index: (_n: number) => FRAME_HEADER_BYTES + 2 },
    { name: "tag", index: (n: number) => n - FRAME_TAG_BYTES + 3 },
    { name: "last byte", index: (n: number) => n - 1 },
  ];
  for (const region of regions) {
    for (const bit of [0, 7]) {
      const { sealer, opener } = pair();
      const frame = await seal(sealer, { region: region.name });
      const flipped = frame.slice();
      const at = region.index(frame.length);
      flipped[at]! ^= 1 << bit;
      const result = await opener.open(flipped);
      assert.equal(result.ok, false, `${region.name} bit ${bit} accepted`);
      // The genuine frame is still accepted afterwards only if nothing was consumed.
      assert.equal(opener.expectedCounter, 0);
    }
  }
  // Every byte position, not just the named regions.
  const { sealer } = pair();
  const frame = await seal(sealer, { all: true });
  for (let at = 0; at < frame.length; at++) {
    const flipped = frame.slice();
    flipped[at]! ^= 0x10;
    const result = await new FrameOpener(KEY).open(flipped);
    assert.equal(result.ok, false, `flip at byte ${at} accepted`);
  }
});

Deno.test("open() rejects a replayed frame", async () => {
  const { sealer, opener } = pair();
  const frame = await seal(sealer, { n: 1 });
  assert.equal((await opener.open(frame)).ok, true);
  const again = await opener.open(frame);
  assert.equal(again.ok, false);
  assert.equal(!again.ok && again.error, "replayed");
});

Deno.test("open() rejects a reordered pair and a dropped frame", async () => {
  const { sealer, opener } = pair();
  const first = await seal(sealer, { n: 0 });
  const second = await seal(sealer, { n: 1 });
  const reordered = await opener.open(second);
  assert.equal(!reordered.ok && reordered.error, "out_of_order");
  assert.equal((await opener.open(first)).ok, true);
  const third = await seal(sealer, { n: 2 });
  const fourth = await seal(sealer, { n: 3 });
  assert.equal((await opener.open(second)).ok, true);
  void third; // dropped on the way
  const skipped = await opener.open(fourth);
  assert.equal(!skipped.ok && skipped.error, "out_of_order");
});

Deno.test("open() rejects truncated frames", async () => {
  const { sealer } = pair();
  const frame = await seal(sealer, { text: "a message long enough to cut" });
  for (
    const length of [
      0,
      5,
      FRAME_OVERHEAD_BYTES - 1,
      FRAME_OVERHEAD_BYTES,
      frame.length - 1,
    ]
  ) {
    const result = await new FrameOpener(KEY).open(frame.slice(0, length));
    assert.equal(result.ok, false, `truncated to ${length} accepted`);
    const expected = length < FRAME_OVERHEAD_BYTES ? "truncated" : "tampered";
    assert.equal(!result.ok && result.error, expected);
  }
});

Deno.test("open() rejects a frame sealed under the wrong key", async () => {
  const frame = await new FrameSealer(OTHER_KEY).seal(
    FrameSealer.encode({ x: 1 })!,
  );
  const result = await new FrameOpener(KEY).open(frame);
  assert.equal(!result.ok && result.error, "tampered");
});

Deno.test("open() rejects frames over 64 KiB and encode() refuses to build them", async () => {
  assert.equal(FrameSealer.encode("x".repeat(PLAINTEXT_BYTES_MAX)), undefined);
  assert.notEqual(
    FrameSealer.encode("x".repeat(PLAINTEXT_BYTES_MAX - 2)),
    undefined,
  );
  const result = await new FrameOpener(KEY).open(
    new Uint8Array(FRAME_BYTES_MAX + 1),
  );
  assert.equal(!result.ok && result.error, "too_large");
  assert.equal(FrameSealer.encode({ big: 1n }), undefined);
});

Deno.test("the key ratchet is crossed in step by both sides", async () => {
  const { sealer, opener } = pair(4);
  const frames: Uint8Array<ArrayBuffer>[] = [];
  for (let i = 0; i < 13; i++) {
    const frame = await seal(sealer, { i });
    frames.push(frame);
    assert.deepEqual(await opener.open(frame), {
      ok: true,
      message: { i },
      counter: i,
    });
  }
  assert.equal(sealer.ratchets, 3);
  assert.equal(opener.ratchets, 3);
  // After the ratchet a frame of epoch 0 re-labelled with a later counter fails:
  // the key changed, not just the nonce.
  const old = frames[1]!.slice();
  new DataView(old.buffer).setBigUint64(0, 13n);
  assert.equal((await opener.open(old)).ok, false);
});

Deno.test("ratcheted keys differ from the unratcheted stream", async () => {
  const ratcheted = new FrameSealer(KEY, { ratchetIntervalFrames: 1 });
  const plain = new FrameSealer(KEY);
  const a = [await seal(ratcheted, 1), await seal(ratcheted, 1)];
  const b = [await seal(plain, 1), await seal(plain, 1)];
  assert.deepEqual(a[0], b[0]);
  assert.notDeepEqual(a[1], b[1]);
});

/** The frame the WebCrypto codec (before issue 14) sealed for `plaintext`. */
async function webCryptoFrame(
  chainKey: Uint8Array<ArrayBuffer>,
  counter: number,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const hkdfKey = await crypto.subtle.importKey(
    "raw",
    chainKey,
    "HKDF",
    false,
    [
      "deriveBits",
    ],
  );
  const raw = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(0),
      info: new TextEncoder().encode("clustd/1 frame key"),
    },
    hkdfKey,
    256,
  );
  const aes = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "encrypt",
  ]);
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setBigUint64(0, BigInt(counter));
  const iv = new Uint8Array(12);
  iv.set(header, 4);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: header },
      aes,
      plaintext,
    ),
  );
  const frame = new Uint8Array(FRAME_HEADER_BYTES + sealed.length);
  frame.set(header);
  frame.set(sealed, FRAME_HEADER_BYTES);
  return frame;
}

Deno.test("seal() is byte-identical to the WebCrypto AES-GCM construction, both ways", async () => {
  const { sealer, opener } = pair();
  for (let counter = 0; counter < 3; counter++) {
    const plaintext = FrameSealer.encode({ counter, pad: "x".repeat(40) })!;
    const expected = await webCryptoFrame(KEY, counter, plaintext);
    assert.deepEqual(sealer.seal(plaintext), expected);
    const opened = opener.open(expected);
    assert.equal(opened.ok, true);
  }
});
