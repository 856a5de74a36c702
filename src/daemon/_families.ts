/**
 * Prometheus families for the mesh's and the drivers' counters. Renders
 * snapshots only; the owners keep the counters.
 */

import type { MetricFamily } from "../http/metrics.ts";
import type { MeshMetrics } from "../mesh/mesh.ts";
import type { FrameError } from "../mesh/frame.ts";
import type { HandshakeFailure } from "../mesh/handshake.ts";
import type { CheckStatus } from "./check_host.ts";
import type { DriverStats } from "./driver_host.ts";

/**
 * Every handshake failure reason, so each counter has a sample (0) before
 * the first failure; a Record so a new reason fails type checking here.
 */
const HANDSHAKE_REASONS: Record<HandshakeFailure, true> = {
  auth: true,
  version: true,
  fingerprint: true,
  identity: true,
  kind: true,
  malformed: true,
  timeout: true,
  too_large: true,
  closed: true,
  capacity: true,
};

/** Every admission refusal reason (see HANDSHAKE_REASONS). */
const ADMISSION_REASONS: Record<
  keyof MeshMetrics["admissionsRefusedByReason"],
  true
> = {
  handshakes_total: true,
  handshakes_per_source: true,
  rate_per_source: true,
  rate_total: true,
};

/** Every frame error reason (see HANDSHAKE_REASONS). */
const FRAME_REASONS: Record<FrameError, true> = {
  too_large: true,
  truncated: true,
  replayed: true,
  out_of_order: true,
  tampered: true,
  malformed: true,
  exhausted: true,
};

function byReason(
  known: Record<string, true>,
  record: Partial<Record<string, number>>,
) {
  const reasons = new Set([...Object.keys(known), ...Object.keys(record)]);
  return [...reasons].sort().map((reason) => ({
    labels: { reason },
    value: record[reason] ?? 0,
  }));
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
      samples: byReason(HANDSHAKE_REASONS, metrics.handshakeFailures),
    },
    {
      name: "clustd_frame_errors_total",
      help: "Received frames rejected (replayed, tampered, ...) by reason",
      type: "counter",
      samples: byReason(FRAME_REASONS, metrics.frameErrors),
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
      samples: byReason(ADMISSION_REASONS, metrics.admissionsRefusedByReason),
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
    ...resourceFamilies(stats),
  ];
}

/** State, consecutive failures and last duration per check. */
export function checkFamilies(checks: CheckStatus[]): MetricFamily[] {
  const per = (pick: (c: CheckStatus) => number) =>
    checks.map((c) => ({ labels: { check: c.id }, value: pick(c) }));
  return [
    {
      name: "clustd_check_healthy",
      help:
        "1 while the check passes (after rise successes), 0 after fall failures",
      type: "gauge",
      samples: per((c) => c.healthy ? 1 : 0),
    },
    {
      name: "clustd_check_consecutive_failures",
      help: "Failed runs of the check in a row (ineligible at fall)",
      type: "gauge",
      samples: per((c) => c.failuresInRow),
    },
    {
      name: "clustd_check_duration_seconds",
      help: "Duration of the check's last run",
      type: "gauge",
      samples: per((c) => c.lastDurationMs / 1000),
    },
  ];
}

/** Help text of each resource counter, as `clustd_resource_<name>_total`. */
const RESOURCE_HELP: Record<string, string> = {
  reconcile_runs: "Reconcile passes of vip/floating_ip drivers",
  repairs:
    "Drift repaired by reconcile (VIP re-added or removed, IP reassigned)",
  announcements: "Gratuitous ARP / unsolicited NA packets sent",
  announce_failures: "Announcement runs that failed",
  api_requests: "HTTP requests to the cloud provider or metadata service",
  api_errors: "Provider requests answered with an error status or not answered",
  api_retries: "Provider requests repeated after an error, 429 or timeout",
  api_rate_limited: "Provider answers with status 429",
  fenced_calls: "Provider calls not sent because the term was over",
  assignments: "Floating IP assignments confirmed by read-back",
};

/** vip and floating_ip counters: repairs, announcements, provider calls and latency. */
function resourceFamilies(stats: DriverStats): MetricFamily[] {
  const owners = stats.filter((s) => s.resource !== undefined);
  if (owners.length === 0) return [];
  const value = (s: DriverStats[number], key: string) => s.resource?.[key] ?? 0;
  const families: MetricFamily[] = Object.entries(RESOURCE_HELP).map((
    [key, help],
  ) => ({
    name: `clustd_resource_${key}_total`,
    help,
    type: "counter",
    samples: owners.map((s) => ({
      labels: { driver: s.name },
      value: value(s, key),
    })),
  }));
  families.push({
    name: "clustd_resource_api_latency_seconds",
    help: "Latency of provider requests",
    type: "summary",
    samples: owners.flatMap((s) => [
      {
        labels: { driver: s.name },
        value: value(s, "api_latency_ms_sum") / 1000,
        suffix: "_sum",
      },
      {
        labels: { driver: s.name },
        value: value(s, "api_requests"),
        suffix: "_count",
      },
    ]),
  });
  return families;
}
