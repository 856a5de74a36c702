/**
 * Counters of the listener (`server.ts`) and their Prometheus families:
 * connections accepted and refused by reason, requests, bad or slow request
 * heads by reason, accept errors by errno, upgrades handed over. Never
 * logs and never decides anything.
 */

import type { MetricFamily } from "./metrics.ts";

/** A snapshot of the listener's counters (monotonic, except the gauge). */
export interface HttpServerMetrics {
  connectionsAccepted: number;
  /** Connections closed at accept, by the cap that refused them. */
  connectionsRefused: Record<string, number>;
  requests: number;
  /** Request heads refused: `timeout`, `too_large`, `malformed`. */
  badRequests: Record<string, number>;
  /** accept() failures by errno (`EMFILE`, ...). */
  acceptErrors: Record<string, number>;
  upgrades: number;
  /** Gauge: connections in their HTTP phase now. */
  connectionsOpen: number;
}

/** Mutable counters behind `HttpServerMetrics`. */
export class HttpServerCounters {
  connectionsAccepted = 0;
  requests = 0;
  upgrades = 0;
  #refused: Record<string, number> = {};
  #bad: Record<string, number> = {};
  #acceptErrors: Record<string, number> = {};

  /** Counts one connection refused by `reason`. */
  refused(reason: string): void {
    this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
  }

  /** Counts one refused request head. */
  badRequest(reason: string): void {
    this.#bad[reason] = (this.#bad[reason] ?? 0) + 1;
  }

  /** Counts one failed accept(). */
  acceptError(code: string): void {
    this.#acceptErrors[code] = (this.#acceptErrors[code] ?? 0) + 1;
  }

  /** An immutable copy. */
  snapshot(connectionsOpen: number): HttpServerMetrics {
    return {
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: { ...this.#refused },
      requests: this.requests,
      badRequests: { ...this.#bad },
      acceptErrors: { ...this.#acceptErrors },
      upgrades: this.upgrades,
      connectionsOpen,
    };
  }
}

function labelled(
  label: string,
  record: Record<string, number>,
): { labels: Record<string, string>; value: number }[] {
  return Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1).map((
    [key, value],
  ) => ({ labels: { [label]: key }, value }));
}

/** Prometheus families of the listener's counters. */
export function httpServerFamilies(m: HttpServerMetrics): MetricFamily[] {
  return [
    {
      name: "clustd_listener_connections_total",
      help: "TCP connections accepted on the node's port",
      type: "counter",
      samples: [{ value: m.connectionsAccepted }],
    },
    {
      name: "clustd_listener_refused_total",
      help: "Connections closed at accept by a cap, by reason",
      type: "counter",
      samples: labelled("reason", m.connectionsRefused),
    },
    {
      name: "clustd_listener_accept_errors_total",
      help: "Failed accepts (EMFILE: out of descriptors), by errno",
      type: "counter",
      samples: labelled("errno", m.acceptErrors),
    },
    {
      name: "clustd_http_requests_total",
      help: "HTTP requests read (probes and upgrades)",
      type: "counter",
      samples: [{ value: m.requests }],
    },
    {
      name: "clustd_http_bad_requests_total",
      help: "Request heads refused (timeout, too_large, malformed)",
      type: "counter",
      samples: labelled("reason", m.badRequests),
    },
    {
      name: "clustd_http_upgrades_total",
      help: "WebSocket upgrades handed to the mesh",
      type: "counter",
      samples: [{ value: m.upgrades }],
    },
    {
      name: "clustd_http_connections_open",
      help: "Connections in their HTTP phase now",
      type: "gauge",
      samples: [{ value: m.connectionsOpen }],
    },
  ];
}
