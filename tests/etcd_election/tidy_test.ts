/**
 * Holds the line that src/etcd_election/ is a pure core like src/election/:
 * no clocks, timers, randomness, I/O or async, and imports only from
 * itself and the mesh core's pure helpers (assert, rank, types).
 */
import assert from "node:assert/strict";

const DIR = new URL("../../src/etcd_election/", import.meta.url);

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

const ALLOWED_IMPORT = /^\.\/|^\.\.\/election\/(assert|rank|types)\.ts$/;

Deno.test("tidy: src/etcd_election/ uses no clock, timer, randomness, I/O or await", () => {
  let files = 0;
  for (const entry of Deno.readDirSync(DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    const source = Deno.readTextFileSync(new URL(entry.name, DIR));
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(
      /(^|[^:])\/\/.*$/gm,
      "$1",
    );
    for (const [pattern, name] of FORBIDDEN) {
      assert.ok(
        !pattern.test(code),
        `src/etcd_election/${entry.name} uses ${name}`,
      );
    }
    for (const match of code.matchAll(/from\s+"([^"]+)"/g)) {
      assert.match(
        match[1]!,
        ALLOWED_IMPORT,
        `${entry.name} imports ${match[1]}`,
      );
    }
  }
  assert.ok(files >= 5);
});
