/**
 * Validation of the `drivers:` and `checks:` lists for validate.ts: types,
 * keys, ids (given or defaulted, unique) and the shape of script paths.
 * Reads through the position-aware Reader; never starts, runs or stats
 * anything (whether the programs exist and are safe is `_programs.ts`).
 */

import { mapGet, type YamlNode } from "../yaml/parse.ts";
import { checkUrl, isAbsolutePath } from "./_net.ts";
import { closest, quote, type Reader, type Section } from "./_reader.ts";
import {
  DRIVER_TYPES,
  ID_LENGTH_MAX,
  ID_PATTERN,
  INTEGER_RULES,
  KEYS,
} from "./schema.ts";
import { decodeSecret } from "./secret.ts";
import { readFloatingIp, readVip, type ResourceIo } from "./_resources.ts";
import type {
  BashDriverConfig,
  CheckConfig,
  DriverConfig,
  ExternalDriverConfig,
  WebhookDriverConfig,
} from "./types.ts";

/** A driver with the section it was read from, for cross-checks with positions. */
export interface DriverEntry {
  driver: DriverConfig;
  section: Section;
}

/** A check with the section it was read from. */
export interface CheckEntry {
  check: CheckConfig;
  section: Section;
}

/** Reads `drivers:`; invalid entries are reported and skipped. */
export function readDrivers(root: Section, io: ResourceIo): DriverEntry[] {
  const drivers: DriverEntry[] = [];
  // Default ids count drivers per type, so adding a webhook does not rename
  // the bash drivers (a renamed driver counts as changed on reload).
  const ordinals = new Map<string, number>();
  root.list("drivers").forEach((item, index) => {
    const entry = readDriver(
      root.reader,
      `drivers[${index}]`,
      item,
      ordinals,
      io,
    );
    if (entry !== null) drivers.push(entry);
  });
  checkUniqueIds(
    drivers.map(({ driver, section }) => ({ id: driver.id, section })),
    "driver",
  );
  return drivers;
}

/** Reports ids used twice (given or defaulted), at the later entry. */
function checkUniqueIds(
  entries: { id: string; section: Section }[],
  what: "driver" | "check",
): void {
  const seen = new Map<string, string>();
  for (const { id, section } of entries) {
    if (id === "") continue;
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, section.path);
      continue;
    }
    const given = section.has("id") ? "" : " (its default id)";
    const message = `Duplicate ${what} id ${
      quote(id)
    }${given}, also used by ${first}: give each ${what} its own "id"`;
    if (section.has("id")) section.error("id", message);
    else section.reader.error(section.path, section.node, message);
  }
}

function readDriver(
  reader: Reader,
  path: string,
  item: YamlNode,
  ordinals: Map<string, number>,
  io: ResourceIo,
): DriverEntry | null {
  const types = DRIVER_TYPES.map((t) => `"${t}"`).join(", ");
  if (item.kind !== "map") {
    // Let section() word the "must be a mapping" error with the position.
    reader.section(path, item, []);
    return null;
  }
  const typeNode = mapGet(item, "type") ?? null;
  if (typeNode === null) {
    reader.error(
      `${path}.type`,
      item,
      `Missing required key "type": use ${types}`,
    );
    return null;
  }
  const value = typeNode.kind === "scalar" ? typeNode.value : undefined;
  const type = DRIVER_TYPES.find((t) => t === value);
  if (type === undefined) {
    const guess = typeof value === "string"
      ? closest(value, DRIVER_TYPES)
      : undefined;
    const hint = guess !== undefined
      ? `did you mean "${guess}"?`
      : `use ${types}`;
    reader.error(
      `${path}.type`,
      typeNode,
      `${
        typeNode.kind === "scalar" ? quote(typeNode.value) : "This value"
      } is not a driver type: ${hint}`,
    );
    return null;
  }
  const section = reader.section(path, item, KEYS[type]);
  if (section === null) return null;
  const ordinal = ordinals.get(type) ?? 0;
  ordinals.set(type, ordinal + 1);
  const id = `${type}-${ordinal}`;
  const driver = type === "bash"
    ? readBash(section, id)
    : type === "webhook"
    ? readWebhook(section, id)
    : type === "vip"
    ? readVip(section, readOptionalId(section, id), io)
    : type === "floating_ip"
    ? readFloatingIp(section, readOptionalId(section, id), io)
    : readExternal(section);
  return { driver, section };
}

function readScript(section: Section, key: string): string | undefined {
  const script = section.string(key);
  if (script !== undefined && !isAbsolutePath(script)) {
    section.error(
      key,
      `${quote(script)} must be an absolute path, e.g. "/etc/clustd/${key}.sh"`,
    );
    return undefined;
  }
  return script;
}

function readBash(section: Section, defaultId: string): BashDriverConfig {
  const driver: BashDriverConfig = {
    type: "bash",
    id: readOptionalId(section, defaultId),
    timeoutMs: section.integer(
      "timeout_ms",
      INTEGER_RULES.bashTimeoutMs,
      INTEGER_RULES.bashTimeoutMs.default,
    ),
  };
  const promote = readScript(section, "promote");
  const demote = readScript(section, "demote");
  const prePromote = readScript(section, "pre_promote");
  if (promote !== undefined) driver.promote = promote;
  if (demote !== undefined) driver.demote = demote;
  if (prePromote !== undefined) driver.prePromote = prePromote;
  const scripts = ["promote", "demote", "pre_promote"];
  if (!scripts.some((key) => section.has(key))) {
    section.reader.error(
      section.path,
      section.node,
      'A bash driver needs at least one script: set "promote", "demote" or "pre_promote"',
    );
  }
  return driver;
}

function readWebhook(
  section: Section,
  defaultId: string,
): WebhookDriverConfig {
  const url = section.string("url");
  if (url === undefined && !section.invalid("url")) {
    section.missing(
      "url",
      'set the endpoint, e.g. "https://hooks.example.com/clustd"',
    );
  }
  if (url !== undefined) {
    const problem = checkUrl(
      url,
      ["http", "https"],
      "https://hooks.example.com/clustd",
    );
    if (problem !== null) section.error("url", problem);
  }
  const driver: WebhookDriverConfig = {
    type: "webhook",
    id: readOptionalId(section, defaultId),
    url: url ?? "",
    timeoutMs: section.integer(
      "timeout_ms",
      INTEGER_RULES.webhookTimeoutMs,
      INTEGER_RULES.webhookTimeoutMs.default,
    ),
    retries: section.integer(
      "retries",
      INTEGER_RULES.webhookRetries,
      INTEGER_RULES.webhookRetries.default,
    ),
  };
  const secret = section.string("secret");
  if (secret !== undefined) {
    const decoded = decodeSecret(secret);
    if (typeof decoded === "string") section.error("secret", decoded);
    else driver.secret = decoded;
  }
  return driver;
}

function readExternal(section: Section): ExternalDriverConfig {
  return { type: "external", id: readId(section, "id") ?? "" };
}

/** Reads a required id (`[a-z0-9._-]+`). */
export function readId(section: Section, key: string): string | undefined {
  const id = section.string(key);
  if (id === undefined) {
    if (!section.invalid(key)) {
      section.missing(key, 'give a unique id made of a-z, 0-9, ".", "_", "-"');
    }
    return undefined;
  }
  if (!ID_PATTERN.test(id) || id.length > ID_LENGTH_MAX) {
    section.error(
      key,
      `${
        quote(id)
      } is not a valid id: use up to ${ID_LENGTH_MAX} characters from a-z, 0-9, ".", "_", "-"`,
    );
    return undefined;
  }
  return id;
}

/** An optional `id`: the given one when valid, else `fallback`. */
function readOptionalId(section: Section, fallback: string): string {
  if (!section.has("id")) return fallback;
  return readId(section, "id") ?? fallback;
}

/** Reads `checks:`; invalid entries are reported and skipped. */
export function readChecks(root: Section): CheckEntry[] {
  const checks: CheckEntry[] = [];
  root.list("checks").forEach((item, index) => {
    const section = root.reader.section(`checks[${index}]`, item, KEYS.check);
    if (section === null) return;
    const command = section.string("command");
    if (command === undefined && !section.invalid("command")) {
      section.missing("command", "set the absolute path of the check program");
    } else if (command !== undefined && !isAbsolutePath(command)) {
      section.error(
        "command",
        `${
          quote(command)
        } must be an absolute path, e.g. "/usr/local/bin/check-nginx"`,
      );
    }
    const rules = INTEGER_RULES;
    const intervalMs = section.integer(
      "interval_ms",
      rules.checkIntervalMs,
      rules.checkIntervalMs.default,
    );
    const check: CheckConfig = {
      id: readOptionalId(section, `check-${index}`),
      command: command ?? "",
      args: section.stringList("args") ?? [],
      intervalMs,
      timeoutMs: section.integer(
        "timeout_ms",
        rules.checkTimeoutMs,
        Math.min(intervalMs, rules.checkTimeoutMs.default),
      ),
      rise: section.integer("rise", rules.checkRise, rules.checkRise.default),
      fall: section.integer("fall", rules.checkFall, rules.checkFall.default),
    };
    checks.push({ check, section });
  });
  checkUniqueIds(
    checks.map(({ check, section }) => ({ id: check.id, section })),
    "check",
  );
  return checks;
}
