/** Secret generation and strict decoding. */

import assert from "node:assert/strict";
import { decodeSecret, generateSecret } from "../../src/config/secret.ts";

Deno.test("generateSecret() yields 32 random bytes, different each call", () => {
  const a = decodeSecret(generateSecret());
  const b = decodeSecret(generateSecret());
  assert.ok(a instanceof Uint8Array && b instanceof Uint8Array);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
});

Deno.test("decodeSecret() refuses short, empty and non-base64 secrets without quoting them", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    [new Uint8Array(31).toBase64(), /31 bytes, fewer than the 32/],
    ["hunter2!hunter2!", /not valid base64/],
    ["abc", /not valid base64/],
  ];
  for (const [text, message] of cases) {
    const result = decodeSecret(text);
    assert.equal(typeof result, "string");
    assert.match(String(result), message);
    if (text !== "") assert.ok(!String(result).includes(text));
  }
});

Deno.test("decodeSecret() ignores surrounding whitespace", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  assert.deepEqual(decodeSecret(`\n  ${bytes.toBase64()}\n`), bytes);
});
