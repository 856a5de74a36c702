import assert from "node:assert/strict";
import { driverFamilies } from "../../src/daemon/_families.ts";
import type { DriverStats } from "../../src/daemon/driver_host.ts";
import { renderMetrics } from "../../src/http/metrics.ts";
import {
  RESOURCE_COUNTERS,
  ResourceStats,
} from "../../drivers/resource/shared.ts";

Deno.test("driverFamilies() renders resource counters and provider latency per driver", () => {
  const memory = ResourceStats.allocate();
  const stats = new ResourceStats(memory);
  stats.add("repairs", 2);
  stats.add("api_requests", 4);
  stats.add("api_latency_ms_sum", 500);
  stats.add("api_rate_limited");
  const drivers: DriverStats = [
    {
      index: 0,
      type: "bash",
      name: "bash#0",
      runs: 1,
      failures: 0,
      timeouts: 0,
      lastDurationMs: 5,
      totalDurationMs: 5,
    },
    {
      index: 1,
      type: "floating_ip",
      name: "floating_ip#1",
      runs: 1,
      failures: 0,
      timeouts: 0,
      lastDurationMs: 700,
      totalDurationMs: 700,
      resource: stats.read(),
    },
  ];
  const text = renderMetrics(driverFamilies(drivers));
  assert.match(
    text,
    /clustd_resource_repairs_total\{driver="floating_ip#1"\} 2/,
  );
  assert.match(
    text,
    /clustd_resource_api_rate_limited_total\{driver="floating_ip#1"\} 1/,
  );
  assert.match(
    text,
    /clustd_resource_api_latency_seconds_sum\{driver="floating_ip#1"\} 0.5/,
  );
  assert.match(
    text,
    /clustd_resource_api_latency_seconds_count\{driver="floating_ip#1"\} 4/,
  );
  assert.doesNotMatch(text, /clustd_resource_\w+\{driver="bash#0"\}/);
  // Every counter the Worker keeps is exported (the latency sum as a summary).
  for (const name of RESOURCE_COUNTERS) {
    if (name === "api_latency_ms_sum") continue;
    assert.match(text, new RegExp(`clustd_resource_${name}_total`));
  }
});
