/**
 * HTTP probes (DESIGN §6) as a pure `Request -> Response` function over a
 * status snapshot. Probes never change state: only GET/HEAD are answered.
 * Must never import the mesh or the election: it reads snapshots only.
 * /status, /history and /metrics answer only `cluster.status_allow`.
 */

import { isAllowed } from "./cidr.ts";

/** One member as /status shows it. */
export interface MemberSnapshot {
  id: string;
  url: string;
  /** Observed role: master, backup, witness (or candidate). */
  role: string;
  /** As the member advertises it (self: own config); null until heard. */
  priority: number | null;
  connected: boolean;
  eligible: boolean | null;
  rtt_ms: number | null;
  last_seen_ms: number | null;
}

/** Everything the probes need, as of one instant. */
export interface StatusSnapshot {
  id: string;
  role: "master" | "backup" | "witness" | "candidate";
  term: number;
  master: string | null;
  quorum: boolean;
  eligible: boolean;
  /** Why the node is not eligible (a failing check, drained, ...); the daemon always sets it. */
  ineligible?: string[];
  drained: boolean;
  /** Cluster maintenance: no automatic failover (clustd pause); the daemon always sets it. */
  paused?: boolean;
  lease_remaining_ms: number;
  master_since: string | null;
  uptime_ms: number;
  version: string;
  members: MemberSnapshot[];
}

/** What the handler reads; functions so every request sees fresh data. */
export interface ProbeSource {
  snapshot(): StatusSnapshot;
  metrics(): string;
  /** This node's role transitions, oldest first (GET /history). */
  history(): unknown[];
  /** CIDRs allowed to read /status and /metrics. */
  statusAllow: string[];
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: TEXT });
}

/** Strips brackets and IPv4-mapped prefixes from a remote address. */
function normalizeAddress(address: string): string {
  const bare = address.replace(/^\[|\]$/g, "");
  return bare.startsWith("::ffff:") && bare.includes(".")
    ? bare.slice(7)
    : bare;
}

/** Answers one probe request; `remoteAddress` is the client's IP. */
export function handleProbe(
  request: Request,
  remoteAddress: string,
  source: ProbeSource,
): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", {
      status: 405,
      headers: { ...TEXT, allow: "GET, HEAD" },
    });
  }
  const path = new URL(request.url).pathname;
  switch (path) {
    case "/health": {
      const s = source.snapshot();
      const paused = s.paused === true ? " (paused)" : "";
      return s.quorum
        ? text(200, `ok${paused}`)
        : text(503, `no quorum${paused}`);
    }
    case "/master": {
      const s = source.snapshot();
      const paused = s.paused === true ? ", paused" : "";
      return s.role === "master"
        ? text(200, `master ${s.id} term ${s.term}${paused}`)
        : text(503, `not master (${s.role}${paused})`);
    }
    case "/replica": {
      const s = source.snapshot();
      const healthy = s.role === "backup" && s.quorum && s.eligible;
      return healthy
        ? text(200, `backup ${s.id}`)
        : text(503, `not a healthy backup (${s.role})`);
    }
    case "/status":
    case "/history":
    case "/metrics": {
      if (!isAllowed(normalizeAddress(remoteAddress), source.statusAllow)) {
        return text(403, "forbidden: address not in cluster.status_allow");
      }
      if (path === "/metrics") {
        return new Response(source.metrics(), {
          status: 200,
          headers: {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
          },
        });
      }
      const body = path === "/history" ? source.history() : source.snapshot();
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
    default:
      return text(
        404,
        "not found: try /health, /master, /replica, /status, /history, /metrics",
      );
  }
}
