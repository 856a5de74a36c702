/**
 * Holds the line that src/election/ is a pure core (tigerbeetle's tidy):
 * no clocks, timers, randomness, I/O, async, or imports from outside itself.
 */
import assert from "node:assert/strict";

const ELECTION_DIR = new URL("../../src/election/", import.meta.url);

const FORBIDDEN: [RegExp, string][] = [
  [/\bDeno\./, "Deno."],
  [/\bDate\.now\b/, "Date.now"],
  [/\bnew Date\b/, "new Date"],
  [/\bperformance\.now\b/, "performance.now"],
  [/\bMath\.random\b/, "Math.random"],
  [/\bsetTimeout\b|\bsetInterval\b|\bqueueMicrotask\b/, "timers"],
  [/\bawait\b|\basync\b/, "await/async"],
  [/\bfetch\(/, "fetch"],
  [/\bcrypto\./, "crypto"],
  [/\bconsole\./, "console"],
];

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /(^|[^:])\/\/.*$/gm,
    "$1",
  );
}

Deno.test("tidy: src/election/ uses no clock, timer, randomness, I/O or await", () => {
  let files = 0;
  for (const entry of Deno.readDirSync(ELECTION_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    const code = stripComments(
      Deno.readTextFileSync(new URL(entry.name, ELECTION_DIR)),
    );
    for (const [pattern, name] of FORBIDDEN) {
      assert.ok(!pattern.test(code), `src/election/${entry.name} uses ${name}`);
    }
  }
  assert.ok(files >= 5, "election files found");
});

Deno.test("tidy: src/election/ imports nothing outside itself", () => {
  const importPattern =
    /(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']/g;
  for (const entry of Deno.readDirSync(ELECTION_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const code = Deno.readTextFileSync(new URL(entry.name, ELECTION_DIR));
    for (const match of code.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2] ?? "";
      assert.match(
        specifier,
        /^\.\/[a-z_]+\.ts$/,
        `src/election/${entry.name} imports "${specifier}"`,
      );
    }
  }
});

Deno.test("tidy: the patterns catch what they should", () => {
  const samples = [
    "Deno.exit(1)",
    "const t = Date.now();",
    "await x",
    "Math.random()",
  ];
  for (const sample of samples) {
    assert.ok(FORBIDDEN.some(([pattern]) => pattern.test(sample)), sample);
  }
  assert.equal(stripComments("// Date.now is banned\nx"), "\nx");
});
