/**
 * `ThrottledLog`: per-source aggregation and a global line budget, with
 * the unlogged failures coming back as counts.
 */

import assert from "node:assert/strict";
import { configureLogging, Logger, resetLogSink } from "../src/log.ts";
import { ThrottledLog } from "../src/log_throttle.ts";

function capture(): string[] {
  const lines: string[] = [];
  configureLogging({ sink: (line) => lines.push(line) });
  return lines;
}

Deno.test("ThrottledLog writes one line per source per interval, then the counts", () => {
  const lines = capture();
  try {
    let now = 0;
    const log = new ThrottledLog(new Logger("test"), {
      nowMs: () => now,
      sourceIntervalMs: 1000,
    });
    for (let i = 0; i < 100; i++) {
      log.report("10.0.0.1", "auth", "handshake failed");
    }
    assert.equal(lines.length, 1);
    now = 1500;
    log.report("10.0.0.1", "timeout", "handshake failed");
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /unlogged=99 unloggedReasons="auth=99"/);
    log.report("10.0.0.1", "auth", "handshake failed");
    log.close();
    assert.equal(lines.length, 3);
    assert.match(
      lines[2]!,
      /failures not logged one by one source=10\.0\.0\.1 count=1 reasons="auth=1"/,
    );
  } finally {
    resetLogSink();
  }
});

Deno.test("ThrottledLog writes at most linesPerSecondMax lines a second over all sources", () => {
  const lines = capture();
  try {
    let now = 0;
    const log = new ThrottledLog(new Logger("test"), {
      nowMs: () => now,
      linesPerSecondMax: 5,
    });
    for (let i = 0; i < 1000; i++) {
      log.report(`10.0.${i >> 8}.${i & 255}`, "auth", "x");
    }
    assert.equal(lines.length, 5);
    assert.equal(log.suppressedTotal, 995);
    now = 10_000;
    log.close();
    // Eight summary lines and one for the rest.
    assert.equal(lines.length, 5 + 9);
    assert.match(lines.at(-1)!, /sources=987 count=987/);
  } finally {
    resetLogSink();
  }
});
