/**
 * The `cluster:` section and the `node.priority` rule for validate.ts: the
 * secret (inline or file), peers, timing with its dependent defaults and the
 * lease safety bound, and the probe allow-list. Reads files only through the
 * callback it is given.
 */

import { readId } from "./_drivers.ts";
import { readBackend } from "./_etcd.ts";
import { checkCidr, checkUrl } from "./_net.ts";
import { describeAsSubject, quote, type Section } from "./_reader.ts";
import {
  CLOCK_DRIFT_RATE,
  INTEGER_RULES,
  KEYS,
  LEASE_FRACTION_DEFAULT,
  RANK_DELAY_MS_MAX_DEFAULT,
  ROLES,
  STATUS_ALLOW_DEFAULT,
  WITNESS_PRIORITY,
} from "./schema.ts";
import { decodeSecret } from "./secret.ts";
import { MODE_EXPOSED_BITS, modeText } from "./_secret_rules.ts";
import type { ClusterConfig, FileRead, PeerConfig } from "./types.ts";

/** Turns a path from the config into one to open (relative to the config). */
export type Resolve = (path: string) => string;
/** Reads a secret file: its text and POSIX mode, or why not. */
export type ReadFile = (path: string) => FileRead;

/** Reads a required sub-mapping, reporting it when absent. */
export function requiredSection(
  root: Section,
  key: "node" | "cluster",
  hint: string,
): Section | null {
  if (!root.has(key)) {
    root.missing(key, hint);
    return null;
  }
  return root.reader.section(key, root.value(key), KEYS[key]);
}

/** Priority of a node or peer; witnesses are forced to 0. */
export function readPriority(
  section: Section,
  role: "voter" | "witness",
): number {
  const rule = INTEGER_RULES.priority;
  const fallback = role === "witness" ? WITNESS_PRIORITY : rule.default;
  const priority = section.integer("priority", rule, fallback);
  if (role === "witness" && priority !== WITNESS_PRIORITY) {
    section.warn(
      "priority",
      `A witness never becomes master, so priority ${
        quote(priority)
      } is ignored: remove it`,
    );
    return WITNESS_PRIORITY;
  }
  return priority;
}

/**
 * Migration note for `cluster.peers[].priority` (clustd 0.1 read it; nodes
 * now advertise their own priority, so two configs can no longer disagree).
 */
function peerPriorityMoved(id: string): string {
  const who = id === "" ? "that peer" : quote(id);
  return `Peer priorities are no longer set here: every node sets its own in "node.priority" and advertises it to the others. Move this value to "node.priority" in the config of ${who} and remove it here (README: "Migration: peer priorities")`;
}

/** A peer with the section it was read from, for cross-checks with positions. */
export interface PeerEntry {
  peer: PeerConfig;
  section: Section;
}

function readPeers(cluster: Section): PeerEntry[] {
  const entries: PeerEntry[] = [];
  cluster.list("peers").forEach((item, index) => {
    const path = `${cluster.pathOf("peers")}[${index}]`;
    const section = cluster.reader.section(path, item, KEYS.peer);
    if (section === null) return;
    const id = readId(section, "id") ?? "";
    const url = section.string("url");
    if (url === undefined && !section.invalid("url")) {
      section.missing(
        "url",
        'say how to reach this peer, e.g. "ws://10.0.0.2:7400"',
      );
    } else if (url !== undefined) {
      const problem = checkUrl(url, ["ws", "wss"], "ws://10.0.0.2:7400");
      if (problem !== null) section.error("url", problem);
    }
    const role = section.choice("role", ROLES, "voter");
    if (section.has("priority")) {
      section.error("priority", peerPriorityMoved(id));
    }
    entries.push({ peer: { id, url: url ?? "", role }, section });
  });
  return entries;
}

/** Reads a base64 secret from a file; group or others may not read it. */
function readSecretFile(
  section: Section,
  key: string,
  path: string,
  readFile: ReadFile,
): Uint8Array | null {
  const result = readFile(path);
  if (!result.ok) {
    section.error(
      key,
      `Cannot read ${
        quote(path)
      }: ${result.message}. Create it with "clustd keygen > ${path}" and "chmod 600 ${path}"`,
    );
    return null;
  }
  if (result.mode !== null && (result.mode & MODE_EXPOSED_BITS) !== 0) {
    section.error(
      key,
      `${quote(path)} is readable by group or others (mode ${
        modeText(result.mode)
      }): run "chmod 600 ${path}" (and chown it to the user clustd runs as)`,
    );
    return null;
  }
  const decoded = decodeSecret(result.text);
  if (typeof decoded === "string") {
    section.error(
      key,
      `${decoded.replace(/^The secret/, `The content of ${quote(path)}`)}`,
    );
    return null;
  }
  return decoded;
}

function readClusterSecret(
  section: Section,
  resolve: Resolve,
  readFile: ReadFile,
): { secret: Uint8Array; source: string } {
  const empty = { secret: new Uint8Array(), source: "" };
  const inline = section.has("secret");
  const file = section.has("secret_file");
  if (inline && file) {
    section.error(
      "secret",
      'Set either "secret" or "secret_file", not both: remove one',
    );
    return empty;
  }
  if (!inline && !file) {
    section.missing(
      "secret_file",
      'set "secret_file" (or an inline "secret") to a secret made with "clustd keygen"',
    );
    return empty;
  }
  if (inline) {
    const text = section.string("secret");
    if (text === undefined) return empty;
    const decoded = decodeSecret(text);
    if (typeof decoded === "string") section.error("secret", decoded);
    return typeof decoded === "string"
      ? empty
      : { secret: decoded, source: "secret" };
  }
  const name = section.string("secret_file");
  if (name === undefined) return empty;
  const path = resolve(name);
  const secret = readSecretFile(section, "secret_file", path, readFile);
  return secret === null ? empty : { secret, source: path };
}

export function readCluster(
  root: Section,
  resolve: Resolve,
  readFile: ReadFile,
): { cluster: ClusterConfig; section: Section; peers: PeerEntry[] } | null {
  const section = requiredSection(
    root,
    "cluster",
    "set the secret and the peers; see config.example.yml",
  );
  if (section === null) return null;
  const { secret, source } = readClusterSecret(section, resolve, readFile);
  const timing = readTiming(section);
  const peers = readPeers(section);
  const cluster: ClusterConfig = {
    secret,
    secretSource: source,
    peers: peers.map((entry) => entry.peer),
    ...timing,
    preempt: section.boolean("preempt", false),
    preemptDelayMs: section.integer(
      "preempt_delay_ms",
      INTEGER_RULES.preemptDelayMs,
      INTEGER_RULES.preemptDelayMs.default,
    ),
    handoverDrainMs: section.integer(
      "handover_drain_ms",
      INTEGER_RULES.handoverDrainMs,
      INTEGER_RULES.handoverDrainMs.default,
    ),
    twoNode: section.boolean("two_node", false),
    statusAllow: readStatusAllow(section),
    ...readBackend(section, resolve, readFile),
  };
  const tokenName = section.string("driver_token_file");
  if (tokenName !== undefined) {
    const path = resolve(tokenName);
    cluster.driverTokenFile = path;
    const token = readSecretFile(section, "driver_token_file", path, readFile);
    if (token !== null) cluster.driverToken = token;
  }
  return { cluster, section, peers };
}

type Timing = Pick<
  ClusterConfig,
  "heartbeatMs" | "electionTimeoutMs" | "leaseMs" | "rankDelayMs" | "minHoldMs"
>;

/** Heartbeat, election timeout, lease and their dependent defaults and limits. */
function readTiming(section: Section): Timing {
  const rules = INTEGER_RULES;
  const heartbeatMs = section.integer(
    "heartbeat_ms",
    rules.heartbeatMs,
    rules.heartbeatMs.default,
  );
  const electionTimeoutMs = section.integer(
    "election_timeout_ms",
    rules.electionTimeoutMs,
    2 * heartbeatMs,
  );
  const timingValid = !section.invalid("heartbeat_ms") &&
    !section.invalid("election_timeout_ms");
  if (timingValid && electionTimeoutMs < 2 * heartbeatMs) {
    section.error(
      "election_timeout_ms",
      `${
        quote(electionTimeoutMs)
      } must be at least 2 × cluster.heartbeat_ms, that is "${
        2 * heartbeatMs
      }" or more`,
    );
  }
  const leaseMs = section.integer(
    "lease_ms",
    rules.leaseMs,
    Math.floor(LEASE_FRACTION_DEFAULT * electionTimeoutMs),
  );
  const drift = (1 + CLOCK_DRIFT_RATE) ** 2;
  if (timingValid && !section.invalid("lease_ms")) {
    if (leaseMs * drift >= electionTimeoutMs) {
      const max = Math.ceil(electionTimeoutMs / drift) - 1;
      section.error(
        "lease_ms",
        `${
          quote(leaseMs)
        } is unsafe: the lease must stay below election_timeout_ms / 1.01² so clock drift cannot overlap two masters; use at most "${max}"`,
      );
    } else if (leaseMs < heartbeatMs) {
      section.error(
        "lease_ms",
        `${
          quote(leaseMs)
        } must be at least cluster.heartbeat_ms ("${heartbeatMs}") so the master can renew it in time`,
      );
    }
  }
  return {
    heartbeatMs,
    electionTimeoutMs,
    leaseMs,
    rankDelayMs: section.integer(
      "rank_delay_ms",
      rules.rankDelayMs,
      Math.min(Math.round(heartbeatMs / 10), RANK_DELAY_MS_MAX_DEFAULT),
    ),
    minHoldMs: section.integer(
      "min_hold_ms",
      rules.minHoldMs,
      electionTimeoutMs,
    ),
  };
}

function readStatusAllow(section: Section): string[] {
  if (!section.has("status_allow")) return [...STATUS_ALLOW_DEFAULT];
  const blocks: string[] = [];
  section.list("status_allow").forEach((item, index) => {
    const path = `${section.pathOf("status_allow")}[${index}]`;
    const text = item.kind === "scalar" && typeof item.value === "string"
      ? item.value
      : null;
    const problem = text === null
      ? `${describeAsSubject(item)} must be a CIDR block, e.g. "10.0.0.0/8"`
      : checkCidr(text);
    if (problem !== null) section.reader.error(path, item, problem);
    else if (text !== null) blocks.push(text);
  });
  return blocks;
}
