/**
 * The daemon keeps the `run` permission (reloads and Worker respawns need it),
 * so its own code must never start a program: only the driver and check
 * Workers in drivers/ do. This scans src/ for the APIs that start or signal
 * processes.
 */

import assert from "node:assert/strict";

const SPAWNING_APIS = /\bDeno\.(Command|run|kill)\b|\bnode:child_process\b/;

function* sources(dir: URL): Generator<URL> {
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

Deno.test("no code in src/ starts or signals a process", () => {
  const offenders: string[] = [];
  let scanned = 0;
  for (const url of sources(new URL("../../src/", import.meta.url))) {
    scanned++;
    const lines = Deno.readTextFileSync(url).split("\n");
    lines.forEach((line, i) => {
      const comment = /^\s*(\*|\/\/|\/\*)/.test(line);
      if (!comment && SPAWNING_APIS.test(line)) {
        offenders.push(`${url.pathname}:${i + 1}`);
      }
    });
  }
  assert.ok(scanned > 20, `scanned ${scanned} files`);
  assert.deepEqual(offenders, []);
});

Deno.test("the scan recognises each spawning API", () => {
  for (
    const line of [
      "new Deno.Command(path)",
      "Deno.kill(pid)",
      'import { spawn } from "node:child_process";',
    ]
  ) {
    assert.ok(SPAWNING_APIS.test(line), line);
  }
  assert.ok(!SPAWNING_APIS.test("Deno.serve(handler)"));
});
