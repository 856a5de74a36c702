/**
 * Validation of the `drivers:` and `checks:` lists for validate.ts. Reads
 * through the position-aware Reader; never starts, runs or stats anything
 * (script paths are checked for shape, not existence).
 */

import { mapGet, type YamlNode } from "./_yaml.ts";
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

/** Reads `drivers:`; invalid entries are reported and skipped. */
export function readDrivers(root: Section, io: ResourceIo): DriverEntry[] {
  const drivers: DriverEntry[] = [];
  root.list("drivers").forEach((item, index) => {
    const entry = readDriver(root.reader, `drivers[${index}]`, item, io);
    if (entry !== null) drivers.push(entry);
  });
  return drivers;
}

function readDriver(
  reader: Reader,
  path: string,
  item: YamlNode,
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
  const type = typeNode.kind === "scalar" ? typeNode.value : undefined;
  const known = DRIVER_TYPES.find((t) => t === type);
  if (known === undefined) {
    const guess = typeof type === "string"
      ? closest(type, DRIVER_TYPES)
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
  const section = reader.section(path, item, KEYS[known]);
  if (section === null) return null;
  const driver = known === "bash"
    ? readBash(section)
    : known === "webhook"
    ? readWebhook(section)
    : known === "vip"
    ? readVip(section, io)
    : known === "floating_ip"
    ? readFloatingIp(section, io)
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

function readBash(section: Section): BashDriverConfig {
  const driver: BashDriverConfig = {
    type: "bash",
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

function readWebhook(section: Section): WebhookDriverConfig {
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

/** Reads `checks:`; invalid entries are reported and skipped. */
export function readChecks(root: Section): CheckConfig[] {
  const checks: CheckConfig[] = [];
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
    checks.push({
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
    });
  });
  return checks;
}
