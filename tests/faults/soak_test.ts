/** Tests of the soak's command line: `deno task soak -- --minutes M` and its limits. */
import assert from "node:assert/strict";
import { parseArgs } from "./soak.ts";

Deno.test("parseArgs() skips the -- that deno task passes through", () => {
  const args = parseArgs([
    "--",
    "--minutes",
    "10",
    "--seed",
    "42",
    "--nodes",
    "5",
  ]);
  assert.equal(typeof args, "object");
  if (typeof args === "string") return;
  assert.equal(args.minutes, 10);
  assert.equal(args.seed, 42);
  assert.equal(args.nodes, 5);
  assert.equal(args.heartbeatMs, 100);
});

Deno.test("parseArgs() refuses a missing duration, a bad node count and unknown flags", () => {
  assert.match(String(parseArgs([])), /"--minutes" must be/);
  assert.match(String(parseArgs(["--minutes", "1", "--nodes", "4"])), /3 or 5/);
  assert.match(
    String(parseArgs(["--minutes", "1", "--fast", "1"])),
    /Unknown option "--fast"/,
  );
  assert.match(String(parseArgs(["--minutes", "x"])), /needs a number/);
});
