/**
 * Validation of the resource drivers, `type: vip` and `type: floating_ip`,
 * for _drivers.ts. Files (the token) and programs (`ip`, `arping`, `na6`) are
 * looked up only through the callbacks validate.ts is given, so this stays
 * pure: a missing program is a config error here, never a silent skip later.
 */

import { checkUrl, isIpv4, isIpv6 } from "./_net.ts";
import { quote, type Section } from "./_reader.ts";
import {
  FLOATING_IP_PROVIDERS,
  INTEGER_RULES,
  VIP_PROGRAMS,
} from "./schema.ts";
import type {
  FileRead,
  FloatingIpDriverConfig,
  FloatingIpProvider,
  VipDriverConfig,
} from "./types.ts";

/** The first of `paths` that is an executable file, or null. */
export type FindProgram = (paths: readonly string[]) => string | null;

/** What reading the resource drivers needs from the outside world. */
export interface ResourceIo {
  /** Resolves a path relative to the config file. */
  resolve(path: string): string;
  readFile(path: string): FileRead;
  findProgram: FindProgram;
}

/** Interface names as the kernel accepts them (IFNAMSIZ - 1 characters). */
const INTERFACE_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;

/** IPv4 address labels: the interface name, ":", a suffix; 15 characters at most. */
const LABEL_PATTERN = /^[A-Za-z0-9_.:-]{1,15}$/;

/** Default public API endpoints, per provider (AWS: per region). */
export function defaultApiUrl(
  provider: FloatingIpProvider,
  region: string,
): string {
  if (provider === "digitalocean") return "https://api.digitalocean.com";
  if (provider === "hetzner") return "https://api.hetzner.cloud/v1";
  return `https://ec2.${region}.amazonaws.com`;
}

/** The link-local metadata service every supported provider runs. */
export const METADATA_URL_DEFAULT = "http://169.254.169.254";

function program(
  section: Section,
  io: ResourceIo,
  name: keyof typeof VIP_PROGRAMS,
): string {
  const { paths, package: pkg } = VIP_PROGRAMS[name];
  const found = io.findProgram(paths);
  if (found !== null) return found;
  section.reader.error(
    `${section.path}.type`,
    section.value("type"),
    `The vip driver needs "${name}", found at none of ${
      paths.join(", ")
    }: install the Debian package ${pkg} ("apt-get install ${pkg}")`,
  );
  return paths[0];
}

function readAddress(section: Section): { text: string; v6: boolean } {
  const address = section.string("address");
  if (address === undefined) {
    if (!section.invalid("address")) {
      section.missing(
        "address",
        'give the address with its prefix, e.g. "10.0.0.100/24"',
      );
    }
    return { text: "", v6: false };
  }
  const [ip = "", bits = "", extra] = address.split("/");
  const v6 = isIpv6(ip);
  const max = v6 ? 128 : 32;
  const okBits = /^[0-9]{1,3}$/.test(bits) && Number(bits) >= 1 &&
    Number(bits) <= max;
  if (extra !== undefined || !(v6 || isIpv4(ip)) || !okBits) {
    section.error(
      "address",
      `${
        quote(address)
      } is not an address with a prefix length: write e.g. "10.0.0.100/24" or "2001:db8::100/64"`,
    );
  }
  return { text: address, v6 };
}

/** Reads a `type: vip` driver. */
export function readVip(
  section: Section,
  id: string,
  io: ResourceIo,
): VipDriverConfig {
  const { text, v6 } = readAddress(section);
  const iface = section.string("interface");
  if (iface === undefined && !section.invalid("interface")) {
    section.missing("interface", 'name the interface, e.g. "eth0"');
  } else if (iface !== undefined && !INTERFACE_PATTERN.test(iface)) {
    section.error(
      "interface",
      `${
        quote(iface)
      } is not an interface name: use up to 15 of A-Z a-z 0-9 _ . -`,
    );
  }
  const rules = INTEGER_RULES;
  const driver: VipDriverConfig = {
    type: "vip",
    id,
    address: text,
    interface: iface ?? "",
    announceCount: section.integer(
      "announce_count",
      rules.vipAnnounceCount,
      rules.vipAnnounceCount.default,
    ),
    announceIntervalMs: section.integer(
      "announce_interval_ms",
      rules.vipAnnounceIntervalMs,
      rules.vipAnnounceIntervalMs.default,
    ),
    reconcileMs: section.integer(
      "reconcile_ms",
      rules.vipReconcileMs,
      rules.vipReconcileMs.default,
    ),
    ipProgram: program(section, io, "ip"),
    announceProgram: program(section, io, v6 ? "na6" : "arping"),
  };
  const label = section.string("label");
  if (label !== undefined) {
    if (v6) section.error("label", "Labels exist for IPv4 addresses only");
    else if (
      iface !== undefined &&
      !(label.startsWith(`${iface}:`) && LABEL_PATTERN.test(label))
    ) {
      section.error(
        "label",
        `${
          quote(label)
        } must be "${iface}:" plus a suffix, at most 15 characters`,
      );
    } else driver.label = label;
  }
  return driver;
}

function readToken(
  section: Section,
  io: ResourceIo,
): { token: string; file: string } {
  const file = section.string("token_file");
  if (file === undefined) {
    if (!section.invalid("token_file")) {
      section.missing(
        "token_file",
        'name the file holding the API token, e.g. "/etc/clustd/do-token"',
      );
    }
    return { token: "", file: "" };
  }
  const path = io.resolve(file);
  const read = io.readFile(path);
  if (!read.ok) {
    section.error("token_file", `Cannot read ${quote(path)}: ${read.message}`);
    return { token: "", file: path };
  }
  if (read.mode !== null && (read.mode & 0o077) !== 0) {
    section.warn(
      "token_file",
      `${quote(path)} is readable by group or others: run "chmod 600 ${path}"`,
    );
  }
  const token = read.text.trim();
  if (token === "") section.error("token_file", `${quote(path)} is empty`);
  return { token, file: path };
}

/** An id given as a number or as text. */
function readIdLike(section: Section, key: string): string | undefined {
  const node = section.value(key);
  if (node === null) return undefined;
  if (
    node.kind === "scalar" && typeof node.value === "number" &&
    Number.isInteger(node.value)
  ) {
    return String(node.value);
  }
  const text = section.string(key);
  if (text !== undefined && !/^[A-Za-z0-9_.:-]{1,128}$/.test(text)) {
    section.error(
      key,
      `${quote(text)} is not an id: use letters, digits and - _ . :`,
    );
    return undefined;
  }
  return text;
}

/** Reads a `type: floating_ip` driver. */
export function readFloatingIp(
  section: Section,
  id: string,
  io: ResourceIo,
): FloatingIpDriverConfig {
  const provider = section.choice(
    "provider",
    FLOATING_IP_PROVIDERS,
    "digitalocean",
  );
  if (!section.has("provider") && !section.invalid("provider")) {
    section.missing(
      "provider",
      `use ${FLOATING_IP_PROVIDERS.map((p) => `"${p}"`).join(", ")}`,
    );
  }
  const ip = section.string("ip");
  if (ip === undefined && !section.invalid("ip")) {
    section.missing("ip", 'give the floating IP, e.g. "203.0.113.10"');
  } else if (ip !== undefined && !isIpv4(ip) && !isIpv6(ip)) {
    section.error("ip", `${quote(ip)} is not an IP address`);
  }
  const region = section.string("region");
  if (
    provider === "aws" && region === undefined && !section.invalid("region")
  ) {
    section.missing("region", 'name the AWS region, e.g. "eu-west-1"');
  } else if (region !== undefined && !/^[a-z0-9-]{1,32}$/.test(region)) {
    section.error("region", `${quote(region)} is not a region name`);
  }
  const floatingIpId = readIdLike(section, "floating_ip_id");
  if (
    provider === "hetzner" && floatingIpId === undefined &&
    !section.invalid("floating_ip_id")
  ) {
    section.missing(
      "floating_ip_id",
      "give the Floating IP's numeric id (hcloud floating-ip list)",
    );
  }
  const { token, file } = readToken(section, io);
  if (provider === "aws" && token !== "" && token.split("\n").length < 2) {
    section.error(
      "token_file",
      `${
        quote(file)
      } must hold the access key id on line 1 and the secret access key on line 2`,
    );
  }
  const rules = INTEGER_RULES;
  const driver: FloatingIpDriverConfig = {
    type: "floating_ip",
    id,
    provider,
    ip: ip ?? "",
    token,
    tokenFile: file,
    apiUrl: readBaseUrl(section, "api_url") ??
      defaultApiUrl(provider, region ?? ""),
    metadataUrl: readBaseUrl(section, "metadata_url") ?? METADATA_URL_DEFAULT,
    timeoutMs: section.integer(
      "timeout_ms",
      rules.floatingIpTimeoutMs,
      rules.floatingIpTimeoutMs.default,
    ),
    retries: section.integer(
      "retries",
      rules.floatingIpRetries,
      rules.floatingIpRetries.default,
    ),
    readbackMs: section.integer(
      "readback_ms",
      rules.floatingIpReadbackMs,
      rules.floatingIpReadbackMs.default,
    ),
    reconcileMs: section.integer(
      "reconcile_ms",
      rules.floatingIpReconcileMs,
      rules.floatingIpReconcileMs.default,
    ),
  };
  if (floatingIpId !== undefined) driver.floatingIpId = floatingIpId;
  const machineId = readIdLike(section, "machine_id");
  if (machineId !== undefined) driver.machineId = machineId;
  if (region !== undefined) driver.region = region;
  return driver;
}

function readBaseUrl(section: Section, key: string): string | undefined {
  const url = section.string(key);
  if (url === undefined) return undefined;
  const problem = checkUrl(url, ["http", "https"], "https://api.example.com");
  if (problem !== null) {
    section.error(key, problem);
    return undefined;
  }
  return url.replace(/\/+$/, "");
}
