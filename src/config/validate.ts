/**
 * Pure config validation: YAML text plus a file-reading callback in, a
 * normalized `Config` or every error of the file out. Each issue names the key
 * path and the line and column. Never throws on any input, never reads files
 * except through the callback, never prints.
 */

import { dirname, join as joinPath } from "node:path";
import { isScalar, LineCounter, parseDocument } from "yaml";
import { readChecks, readDrivers, readId } from "./_drivers.ts";
import { checkCidr, checkUrl, isAbsolutePath, parseListen } from "./_net.ts";
import { describeAsSubject, quote, Reader, type Section } from "./_reader.ts";
import { checkMembership } from "./_membership.ts";
import {
  CLOCK_DRIFT_RATE,
  INTEGER_RULES,
  KEYS,
  LEASE_FRACTION_DEFAULT,
  LOG_FORMATS,
  RANK_DELAY_MS_MAX_DEFAULT,
  ROLES,
  STATE_DIR_DEFAULT,
  STATUS_ALLOW_DEFAULT,
  WITNESS_PRIORITY,
} from "./schema.ts";
import { decodeSecret } from "./secret.ts";
import type {
  ClusterConfig,
  Config,
  ConfigIssue,
  ConfigResult,
  LogConfig,
  NodeConfig,
  PeerConfig,
} from "./types.ts";

/** What the callback found at a path: the text and POSIX mode, or why not. */
export type FileRead =
  | { ok: true; text: string; mode: number | null }
  | { ok: false; message: string };

/** Inputs besides the YAML text. */
export interface ValidateOptions {
  /** The file as the user named it, used in messages. */
  file: string;
  /** Absolute path of the config; relative paths inside resolve against its directory. */
  path?: string;
  /** Reads `secret_file` and `driver_token_file`. */
  readFile: (path: string) => FileRead;
}

/** Validates a whole config file and reports every problem at once. */
export function validateConfig(
  text: string,
  options: ValidateOptions,
): ConfigResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const reader = new Reader(options.file, lines, doc);
  for (const problem of [...doc.errors, ...doc.warnings]) {
    reader.errorAtOffset(problem.pos[0], yamlMessage(problem.message));
  }
  if (doc.errors.length > 0) {
    return { ok: false, errors: reader.errors, warnings: reader.warnings };
  }
  if (doc.contents === null) {
    reader.error("", null, "The file is empty: start from config.example.yml");
    return { ok: false, errors: reader.errors, warnings: reader.warnings };
  }
  const config = readRoot(reader, doc.contents, options);
  const errors = byPosition(reader.errors);
  const warnings = byPosition(reader.warnings);
  if (config === null || errors.length > 0) {
    return { ok: false, errors, warnings };
  }
  return { ok: true, config, warnings };
}

/** Issues in file order (stable, so same-place issues keep their order). */
function byPosition(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) =>
    (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)
  );
}

/** YAML library messages in Deno style: one sentence, no position (we add it). */
function yamlMessage(message: string): string {
  const first = (message.split("\n")[0] ?? "").replace(
    / at line \d+, column \d+:?$/,
    "",
  );
  return `Invalid YAML: ${first}`;
}

function readRoot(
  reader: Reader,
  contents: unknown,
  options: ValidateOptions,
): Config | null {
  const root = reader.section("", contents, KEYS.root);
  if (root === null) return null;
  const resolve = (path: string) =>
    isAbsolutePath(path) || options.path === undefined
      ? path
      : joinPath(dirname(options.path), path);
  const node = readNode(root);
  const clusterRead = readCluster(root, resolve, options.readFile);
  const driverEntries = readDrivers(root);
  const drivers = driverEntries.map((entry) => entry.driver);
  const checks = readChecks(root);
  const stateDir = resolve(root.string("state_dir") ?? STATE_DIR_DEFAULT);
  const log = readLog(root);
  if (node === null || clusterRead === null) return null;
  checkMembership(root, {
    node,
    clusterSection: clusterRead.section,
    cluster: clusterRead.cluster,
    peers: clusterRead.peers,
    drivers: driverEntries,
    checks: checks.length,
  });
  return {
    path: options.path ?? "",
    node,
    cluster: clusterRead.cluster,
    stateDir,
    drivers,
    checks,
    log,
  };
}

/** Reads a required sub-mapping, reporting it when absent. */
function requiredSection(
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

function readNode(root: Section): NodeConfig | null {
  const section = requiredSection(
    root,
    "node",
    "describe this node (id, listen, advertise); see config.example.yml",
  );
  if (section === null) return null;
  const id = readId(section, "id") ?? "";
  const listen = section.string("listen") ?? "0.0.0.0:7400";
  const parsed = parseListen(listen);
  if (typeof parsed === "string") section.error("listen", parsed);
  const advertise = section.string("advertise");
  if (advertise === undefined && !section.invalid("advertise")) {
    section.missing(
      "advertise",
      'say how peers reach this node, e.g. "ws://10.0.0.1:7400"',
    );
  } else if (advertise !== undefined) {
    const problem = checkUrl(advertise, ["ws", "wss"], "ws://10.0.0.1:7400");
    if (problem !== null) section.error("advertise", problem);
  }
  const role = section.choice("role", ROLES, "voter");
  const priority = readPriority(section, role);
  return {
    id,
    listen,
    listenHost: typeof parsed === "string" ? "" : parsed.host,
    listenPort: typeof parsed === "string" ? 0 : parsed.port,
    advertise: advertise ?? "",
    role,
    priority,
  };
}

/** Priority of a node or peer; witnesses are forced to 0. */
function readPriority(section: Section, role: "voter" | "witness"): number {
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
    const priority = readPriority(section, role);
    entries.push({ peer: { id, url: url ?? "", role, priority }, section });
  });
  return entries;
}

type Resolve = (path: string) => string;
type ReadFile = ValidateOptions["readFile"];

/** Reads a base64 secret from a file, warning when others may read it. */
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
  if (result.mode !== null && (result.mode & 0o077) !== 0) {
    const mode = (result.mode & 0o777).toString(8).padStart(4, "0");
    section.warn(
      key,
      `${
        quote(path)
      } is readable by group or others (mode ${mode}): run "chmod 600 ${path}"`,
    );
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

function readCluster(
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
    twoNode: section.boolean("two_node", false),
    statusAllow: readStatusAllow(section),
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
    const text = isScalar(item) && typeof item.value === "string"
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

function readLog(root: Section): LogConfig {
  const log: LogConfig = { format: "text", debug: "" };
  if (!root.has("log")) return log;
  const section = root.reader.section("log", root.value("log"), KEYS.log);
  if (section === null) return log;
  log.format = section.choice("format", LOG_FORMATS, "text");
  const debug = section.value("debug");
  if (isScalar(debug) && typeof debug.value === "string") {
    log.debug = debug.value;
  } else if (debug !== null) {
    section.error(
      "debug",
      `${describeAsSubject(debug)} must be text, e.g. "clustd:*"`,
    );
  }
  return log;
}
