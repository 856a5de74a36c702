/**
 * Admission of unauthenticated handshakes (`src/mesh/_admission.ts`):
 * caps in total and per source, token buckets per source and in total.
 */

import assert from "node:assert/strict";
import { Admission } from "../../src/mesh/_admission.ts";

Deno.test("Admission caps handshakes in progress per source and in total", () => {
  const admission = new Admission({ totalMax: 3, perSourceMax: 2 });
  const a1 = admission.tryAdmit("10.0.0.1", 0);
  const a2 = admission.tryAdmit("10.0.0.1", 0);
  assert.equal(typeof a1, "function");
  assert.equal(typeof a2, "function");
  assert.equal(admission.tryAdmit("10.0.0.1", 0), "handshakes_per_source");
  const b1 = admission.tryAdmit("10.0.0.2", 0);
  assert.equal(typeof b1, "function");
  assert.equal(admission.tryAdmit("10.0.0.3", 0), "handshakes_total");
  (a1 as () => void)();
  (a1 as () => void)();
  assert.equal(admission.total, 2, "a release counts once");
  assert.equal(typeof admission.tryAdmit("10.0.0.1", 0), "function");
});

Deno.test("Admission limits the rate of new handshakes per source and in total", () => {
  const admission = new Admission({
    perSourcePerSecond: 10,
    burstPerSource: 5,
    perSecondMax: 12,
    totalMax: 1000,
    perSourceMax: 1000,
  });
  const admitted = (source: string, nowMs: number) =>
    typeof admission.tryAdmit(source, nowMs) === "function";
  let count = 0;
  for (let i = 0; i < 20; i++) if (admitted("10.0.0.1", 0)) count++;
  assert.equal(count, 5, "the burst");
  assert.equal(admission.tryAdmit("10.0.0.1", 0), "rate_per_source");
  // 100 ms later one more token has come in.
  assert.ok(admitted("10.0.0.1", 100));
  assert.equal(admission.tryAdmit("10.0.0.1", 100), "rate_per_source");
  // Other sources get their own burst until the total bucket (12) is empty.
  // 12 - 5 + 1.2 - 1 = 7.2 tokens left in total: 5 for .2, 2 for .3.
  for (let i = 0; i < 5; i++) assert.ok(admitted("10.0.0.2", 100));
  assert.ok(admitted("10.0.0.3", 100));
  assert.ok(admitted("10.0.0.3", 100));
  assert.equal(admission.tryAdmit("10.0.0.3", 100), "rate_total");
});
