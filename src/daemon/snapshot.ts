/**
 * Builds the public status snapshot (/status, `clustd status`) and the
 * Prometheus families (/metrics) from the election's, the mesh's and the
 * drivers' own views. Reads only; decides nothing.
 */

import type { Config } from "../config/types.ts";
import type { ElectionStatus } from "../election/types.ts";
import type { MemberSnapshot, StatusSnapshot } from "../http/handler.ts";
import type { MetricFamily } from "../http/metrics.ts";
import type { PeerStatus } from "../mesh/mesh.ts";
import type { CheckStatus } from "./check_host.ts";

/** Counters the daemon keeps itself. */
export interface DaemonCounters {
  elections: number;
  promotions: number;
  demotions: number;
  /** Decision log events by name (vote_granted, vote_refused, ...). */
  events: Map<string, number>;
}

/** Inputs of one snapshot. */
export interface SnapshotParts {
  config: Config;
  election: ElectionStatus;
  peers: PeerStatus[];
  uptimeMs: number;
  version: string;
  masterSinceWallMs: number | null;
  /** Per-check state, for the reasons a node is not eligible. */
  checks?: CheckStatus[];
  stopping?: boolean;
}

/** Why this node is not eligible, in words an operator can act on. */
export function ineligibleReasons(parts: SnapshotParts): string[] {
  const { config, election } = parts;
  if (election.eligible) return [];
  const reasons: string[] = [];
  if (config.node.role === "witness") reasons.push("witness");
  else if (config.node.priority === 0) reasons.push("priority 0");
  if (election.drained) reasons.push("drained");
  if (parts.stopping === true) reasons.push("stopping");
  for (const check of parts.checks ?? []) {
    if (check.healthy) continue;
    reasons.push(
      check.failuresInRow > 0
        ? `check "${check.id}" failing: ${check.lastResult} (${check.failuresInRow} in a row, fall ${check.fall})`
        : `check "${check.id}" not passing yet (${check.successesInRow}/${check.rise} successes)`,
    );
  }
  if (reasons.length === 0) {
    reasons.push("start demote still running, or pre_promote vetoed recently");
  }
  return reasons;
}

function observedRole(
  id: string,
  configRole: string,
  election: ElectionStatus,
): string {
  if (configRole === "witness") return "witness";
  return election.masterId === id ? "master" : "backup";
}

/** The /status document. */
export function buildSnapshot(parts: SnapshotParts): StatusSnapshot {
  const { config, election, peers } = parts;
  const byId = new Map(peers.map((p) => [p.id, p]));
  const electionMembers = new Map(election.members.map((m) => [m.id, m]));
  const members: MemberSnapshot[] = [];
  const self = config.node;
  members.push({
    id: self.id,
    url: self.advertise,
    role: election.role,
    priority: self.priority,
    connected: true,
    eligible: election.eligible,
    rtt_ms: 0,
    last_seen_ms: 0,
  });
  for (const peer of config.cluster.peers) {
    const link = byId.get(peer.id);
    const seen = electionMembers.get(peer.id);
    members.push({
      id: peer.id,
      url: peer.url,
      role: observedRole(peer.id, peer.role, election),
      priority: seen?.priority ?? null,
      connected: link?.connected ?? false,
      eligible: seen?.eligible ?? null,
      rtt_ms: link?.rttMs === null || link?.rttMs === undefined
        ? null
        : Math.round(link.rttMs * 100) / 100,
      last_seen_ms: link?.lastSeenMs === null || link?.lastSeenMs === undefined
        ? null
        : Math.round(link.lastSeenMs),
    });
  }
  // Members the election knows that the config does not list (with the
  // etcd backend, from the records they publish under the prefix).
  const listed = new Set([self.id, ...config.cluster.peers.map((p) => p.id)]);
  for (const seen of election.members) {
    if (listed.has(seen.id)) continue;
    members.push({
      id: seen.id,
      url: "",
      role: observedRole(seen.id, seen.role, election),
      priority: seen.priority,
      connected: seen.alive,
      eligible: seen.eligible,
      rtt_ms: null,
      last_seen_ms: null,
    });
  }
  members.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    id: self.id,
    role: election.role,
    term: election.term,
    master: election.masterId,
    quorum: election.quorum,
    eligible: election.eligible,
    ineligible: ineligibleReasons(parts),
    drained: election.drained,
    paused: election.paused,
    lease_remaining_ms: Math.max(0, Math.round(election.leaseRemainingMs)),
    master_since: parts.masterSinceWallMs === null
      ? null
      : new Date(parts.masterSinceWallMs).toISOString(),
    uptime_ms: Math.round(parts.uptimeMs),
    version: parts.version,
    members,
  };
}

const ROLES = ["master", "backup", "witness", "candidate"] as const;

/** Election events counted from 0, so each has a sample before it happens. */
const KNOWN_EVENTS = [
  "campaign",
  "demote",
  "handover",
  "pre_vote_granted",
  "pre_vote_refused",
  "promote",
  "vote_granted",
  "vote_refused",
] as const;

/** Daemon-level metric families (mesh and drivers add their own). */
export function daemonFamilies(
  snapshot: StatusSnapshot,
  counters: DaemonCounters,
): MetricFamily[] {
  const families: MetricFamily[] = [
    {
      name: "clustd_role",
      help: "1 for the local node's current role",
      type: "gauge",
      samples: ROLES.map((role) => ({
        labels: { role },
        value: snapshot.role === role ? 1 : 0,
      })),
    },
    {
      name: "clustd_term",
      help: "Current election term (fencing token)",
      type: "gauge",
      samples: [{ value: snapshot.term }],
    },
    {
      name: "clustd_quorum",
      help: "1 while the node sees a majority",
      type: "gauge",
      samples: [{ value: snapshot.quorum ? 1 : 0 }],
    },
    {
      name: "clustd_eligible",
      help: "1 while checks pass and the node is not drained",
      type: "gauge",
      samples: [{ value: snapshot.eligible ? 1 : 0 }],
    },
    {
      name: "clustd_elections_total",
      help: "Campaigns started by this node",
      type: "counter",
      samples: [{ value: counters.elections }],
    },
    {
      name: "clustd_failovers_total",
      help: "Times this node became master",
      type: "counter",
      samples: [{ value: counters.promotions }],
    },
    {
      name: "clustd_demotions_total",
      help: "Times this node stopped being master",
      type: "counter",
      samples: [{ value: counters.demotions }],
    },
    {
      name: "clustd_election_events_total",
      help: "Election decisions by kind",
      type: "counter",
      samples: [...new Set([...KNOWN_EVENTS, ...counters.events.keys()])]
        .sort().map((event) => ({
          labels: { event },
          value: counters.events.get(event) ?? 0,
        })),
    },
    {
      name: "clustd_paused",
      help:
        "1 while the cluster is paused (clustd pause): no automatic failover",
      type: "gauge",
      samples: [{ value: snapshot.paused === true ? 1 : 0 }],
    },
    {
      name: "clustd_lease_remaining_seconds",
      help: "Time left on the master's lease (0 when not master)",
      type: "gauge",
      samples: [{ value: snapshot.lease_remaining_ms / 1000 }],
    },
    {
      name: "clustd_peer_connected",
      help: "1 while the peer connection is up",
      type: "gauge",
      samples: snapshot.members.filter((m) => m.id !== snapshot.id).map((
        m,
      ) => ({
        labels: { peer: m.id },
        value: m.connected ? 1 : 0,
      })),
    },
    {
      // Prometheus wants base units (promtool refuses "_ms"): seconds here,
      // although /status shows milliseconds for people.
      name: "clustd_peer_rtt_seconds",
      help: "Smoothed round-trip time to the peer in seconds",
      type: "gauge",
      samples: snapshot.members.filter((m) =>
        m.id !== snapshot.id && m.rtt_ms !== null
      )
        .map((m) => ({
          labels: { peer: m.id },
          value: (m.rtt_ms ?? 0) / 1000,
        })),
    },
  ];
  const memory = Deno.memoryUsage();
  families.push({
    name: "clustd_resident_memory_bytes",
    help: "Resident set size of the daemon",
    type: "gauge",
    samples: [{ value: memory.rss }],
  });
  return families;
}
