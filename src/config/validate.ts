/**
 * Pure config validation: YAML text plus file callbacks (read a secret file,
 * look at a program) in, a normalized `Config` or every error of the file
 * out. Each issue names the key path and the line and column. Never throws on
 * any input, never reads or looks at files except through the callbacks,
 * never prints.
 */

import {
  readCluster,
  type ReadFile,
  readPriority,
  requiredSection,
} from "./_cluster.ts";
import {
  type CheckEntry,
  type DriverEntry,
  readChecks,
  readDrivers,
  readId,
} from "./_drivers.ts";
import { checkMembership } from "./_membership.ts";
import type { FindProgram } from "./_resources.ts";
import { checkSecretRules } from "./_secret_rules.ts";
import { checkUrl, isAbsolutePath, parseListen } from "./_net.ts";
import {
  checkPrograms,
  type ProgramInspector,
  type ProgramRef,
} from "./_programs.ts";
import { describeAsSubject, Reader, type Section } from "./_reader.ts";
import { parseYaml, type YamlNode } from "../yaml/parse.ts";
import { dirname, joinPath } from "./path.ts";
import { KEYS, LOG_FORMATS, ROLES, STATE_DIR_DEFAULT } from "./schema.ts";
import type {
  Config,
  ConfigIssue,
  ConfigResult,
  LogConfig,
  NodeConfig,
} from "./types.ts";

export type { FileInspection, FileRead } from "./types.ts";
export type { ProgramInspector } from "./_programs.ts";

/** Inputs besides the YAML text. */
export interface ValidateOptions {
  /** The file as the user named it, used in messages. */
  file: string;
  /** Absolute path of the config; relative paths inside resolve against its directory. */
  path?: string;
  /** Reads `secret_file` and `driver_token_file`. */
  readFile: ReadFile;
  /**
   * Finds a program a vip driver runs (`ip`, `arping`, `na6`); without it
   * the first candidate path is trusted (no file is looked at).
   */
  findProgram?: FindProgram;
  /**
   * Looks at the scripts and check commands the config names (exist,
   * executable, safe for root); without it only their paths' shape is checked.
   */
  programs?: ProgramInspector;
  /** POSIX mode of the config file (inline secrets need 0600); null: unknown. */
  configMode?: number | null;
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
  const checkEntries = readChecks(root);
  const checks = checkEntries.map((entry) => entry.check);
  if (options.programs !== undefined) {
    checkPrograms(programRefs(driverEntries, checkEntries), options.programs);
  }
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
  checkSecretRules({
    file: options.file,
    configMode: options.configMode ?? null,
    cluster: clusterRead.cluster,
    clusterSection: clusterRead.section,
    drivers: driverEntries,
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

/** Every script and check command, with where it was named. */
function programRefs(
  drivers: readonly DriverEntry[],
  checks: readonly CheckEntry[],
): ProgramRef[] {
  const refs: ProgramRef[] = [];
  for (const { driver, section } of drivers) {
    if (driver.type !== "bash") continue;
    const scripts = {
      promote: driver.promote,
      demote: driver.demote,
      pre_promote: driver.prePromote,
    };
    for (const [key, path] of Object.entries(scripts)) {
      if (path !== undefined) refs.push({ section, key, path });
    }
  }
  for (const { check, section } of checks) {
    refs.push({ section, key: "command", path: check.command });
  }
  return refs;
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
