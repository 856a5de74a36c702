import assert from "node:assert/strict";
import { DebugMatcher, formatLine } from "../src/log.ts";

Deno.test("DebugMatcher enables wildcards and honours exclusions", () => {
  const m = new DebugMatcher("clustd:*,-clustd:mesh*");
  assert.equal(m.enabled("election"), true);
  assert.equal(m.enabled("mesh"), false);
  assert.equal(m.enabled("mesh:peer"), false);
  assert.equal(new DebugMatcher("clustd:mesh").enabled("mesh"), true);
  assert.equal(new DebugMatcher("clustd:mesh").enabled("election"), false);
  assert.equal(new DebugMatcher("").enabled("mesh"), false);
});

Deno.test("formatLine renders text and json with fields", () => {
  const text = formatLine("info", "mesh", "peer up", {
    peer: "web-2",
    rtt: 1.5,
  }, "text");
  assert.match(text, /INFO {2}mesh: peer up peer=web-2 rtt=1.5$/);
  const json = JSON.parse(formatLine("warn", "cfg", "x", { a: "b c" }, "json"));
  assert.equal(json.level, "warn");
  assert.equal(json.subsystem, "cfg");
  assert.equal(json.a, "b c");
});
