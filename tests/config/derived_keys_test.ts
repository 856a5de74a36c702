/**
 * Keys derived from the secrets: known answers (computed independently with
 * Python's hmac, RFC 5869 HKDF), so a receiver can derive them itself.
 */

import assert from "node:assert/strict";
import {
  deriveDriverKey,
  deriveDriverKeys,
  deriveWebhookKey,
} from "../../src/config/derived_keys.ts";

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);

Deno.test("deriveWebhookKey() and deriveDriverKey() match RFC 5869 HKDF-SHA-256 known answers", async () => {
  assert.equal(
    (await deriveWebhookKey(SECRET)).toBase64(),
    "8qTYRSOQI23Z4/2Hu1+c7U1QGbjslxNVFUCa/838KMg=",
  );
  assert.equal(
    (await deriveDriverKey(SECRET, "my-driver")).toBase64(),
    "JasFAkfgLjxvTYsRml07I3H2VMKZqcgEZvDraeJUAZA=",
  );
});

Deno.test("every external driver id gets its own key, none equal to the token", async () => {
  const keys = await deriveDriverKeys(SECRET, [
    { type: "external", id: "a" },
    { type: "bash" },
    { type: "external", id: "b" },
  ]);
  assert.deepEqual([...keys.keys()], ["a", "b"]);
  const [a, b] = [keys.get("a")!, keys.get("b")!];
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a, SECRET);
  assert.deepEqual(a, await deriveDriverKey(SECRET, "a"));
});
