/**
 * Prometheus families for the mesh's and the drivers' counters. Renders
 * snapshots only; the owners keep the counters.
 */

import type { MetricFamily } from "../http/metrics.ts";
import type { MeshMetrics } from "../mesh/mesh.ts";
import type { DriverStats } from "./driver_host.ts";

function byReason(record: Partial<Record<string, number>>) {
  return Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1).map((
    [reason, value],
  ) => ({ labels: { reason }, value: value ?? 0 }));
}

/** Handshake, frame and traffic counters of the mesh. */
export function meshFamilies(metrics: MeshMetrics): MetricFamily[] {
  const counter = (
    name: string,
    help: string,
    value: number,
  ): MetricFamily => ({
    name,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    {
      name: "clustd_handshake_failures_total",
      help: "Refused or failed handshakes by reason",
      type: "counter",
      samples: byReason(metrics.handshakeFailures),
    },
    {
      name: "clustd_frame_errors_total",
      help: "Received frames rejected (replayed, tampered, ...) by reason",
      type: "counter",
      samples: byReason(metrics.frameErrors),
    },
    counter(
      "clustd_connections_total",
      "Authenticated connections established",
      metrics.connectsTotal,
    ),
    {
      name: "clustd_admissions_refused_total",
      help: "Upgrades refused by the unauthenticated caps and rates, by reason",
      type: "counter",
      samples: byReason(metrics.admissionsRefusedByReason),
    },
    {
      name: "clustd_unauthenticated_connections",
      help: "Connections holding an admission slot (handshaking or closing)",
      type: "gauge",
      samples: [{ value: metrics.unauthenticatedOpen }],
    },
    {
      name: "clustd_handshakes_pending",
      help: "Connections in their handshake now",
      type: "gauge",
      samples: [{ value: metrics.handshakesPending }],
    },
    counter(
      "clustd_frames_sent_total",
      "Sealed frames sent",
      metrics.framesSent,
    ),
    counter(
      "clustd_frames_received_total",
      "Sealed frames received",
      metrics.framesReceived,
    ),
    counter(
      "clustd_bytes_sent_total",
      "Bytes sent on all channels",
      metrics.bytesSent,
    ),
    counter(
      "clustd_bytes_received_total",
      "Bytes received on all channels",
      metrics.bytesReceived,
    ),
  ];
}

/** Runs, failures, timeouts and durations per driver. */
export function driverFamilies(stats: DriverStats): MetricFamily[] {
  const per = (pick: (s: DriverStats[number]) => number) =>
    stats.map((s) => ({ labels: { driver: s.name }, value: pick(s) }));
  return [
    {
      name: "clustd_driver_runs_total",
      help: "Driver actions run",
      type: "counter",
      samples: per((s) => s.runs),
    },
    {
      name: "clustd_driver_failures_total",
      help: "Driver actions that failed (non-zero exit, HTTP error, crash)",
      type: "counter",
      samples: per((s) => s.failures),
    },
    {
      name: "clustd_driver_timeouts_total",
      help: "Driver actions killed at their timeout",
      type: "counter",
      samples: per((s) => s.timeouts),
    },
    {
      name: "clustd_driver_duration_seconds",
      help: "Time spent in driver actions",
      type: "summary",
      samples: stats.flatMap((s) => [
        {
          labels: { driver: s.name },
          value: s.totalDurationMs / 1000,
          suffix: "_sum",
        },
        { labels: { driver: s.name }, value: s.runs, suffix: "_count" },
      ]),
    },
    {
      name: "clustd_driver_last_duration_seconds",
      help: "Duration of the last driver action",
      type: "gauge",
      samples: per((s) => s.lastDurationMs / 1000),
    },
  ];
}
