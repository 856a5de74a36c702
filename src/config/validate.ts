/**
 * Pure config validation: YAML text plus a file-reading callback in, a
 * normalized `Config` or every error of the file out. Each issue names the key
 * path and the line and column. Never throws on any input, never reads files
 * except through the callback, never prints.
 */

import {
  readCluster,
  type ReadFile,
  readPriority,
  requiredSection,
} from "./_cluster.ts";
import { readChecks, readDrivers, readId } from "./_drivers.ts";
import type { FindProgram } from "./_resources.ts";
import { checkMembership } from "./_membership.ts";
import { checkUrl, isAbsolutePath, parseListen } from "./_net.ts";
import { describeAsSubject, Reader, type Section } from "./_reader.ts";
import { parseYaml, type YamlNode } from "./_yaml.ts";
import { dirname, joinPath } from "./path.ts";
import { KEYS, LOG_FORMATS, ROLES, STATE_DIR_DEFAULT } from "./schema.ts";
import type {
  Config,
  ConfigIssue,
  ConfigResult,
  LogConfig,
  NodeConfig,
} from "./types.ts";

export type { FileRead } from "./types.ts";

/** Inputs besides the YAML text. */
export interface ValidateOptions {
  /** The file as the user named it, used in messages. */
  file: string;
  /** Absolute path of the config; relative paths inside resolve against its directory. */
  path?: string;
  /** Reads `secret_file`, `driver_token_file` and drivers' `token_file`. */
  readFile: ReadFile;
  /** Finds a program a driver runs; default: trusts the first candidate path. */
  findProgram?: FindProgram;
}

/** Validates a whole config file and reports every problem at once. */
export function validateConfig(
  text: string,
  options: ValidateOptions,
): ConfigResult {
  const doc = parseYaml(text);
  const reader = new Reader(options.file, doc);
  for (const problem of doc.errors) {
    reader.errorAtOffset(problem.offset, `Invalid YAML: ${problem.message}`);
  }
  if (doc.errors.length > 0) {
    return { ok: false, errors: reader.errors, warnings: reader.warnings };
  }
  if (doc.root === null) {
    reader.error("", null, "The file is empty: start from config.example.yml");
    return { ok: false, errors: reader.errors, warnings: reader.warnings };
  }
  const config = readRoot(reader, doc.root, options);
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

function readRoot(
  reader: Reader,
  contents: YamlNode,
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
  const driverEntries = readDrivers(root, {
    resolve,
    readFile: options.readFile,
    findProgram: options.findProgram ?? ((paths) => paths[0] ?? null),
  });
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

function readLog(root: Section): LogConfig {
  const log: LogConfig = { format: "text", debug: "" };
  if (!root.has("log")) return log;
  const section = root.reader.section("log", root.value("log"), KEYS.log);
  if (section === null) return log;
  log.format = section.choice("format", LOG_FORMATS, "text");
  const debug = section.value("debug");
  if (debug?.kind === "scalar" && typeof debug.value === "string") {
    log.debug = debug.value;
  } else if (debug !== null) {
    section.error(
      "debug",
      `${describeAsSubject(debug)} must be text, e.g. "clustd:*"`,
    );
  }
  return log;
}
