/**
 * Syntax of the network values in a config: `host:port`, ws:// and http://
 * URLs, CIDR blocks, absolute paths. Each parser returns a value or an error
 * sentence; none resolves names or touches the network.
 */

/** Highest TCP port. */
const PORT_MAX = 65_535;

/** A parsed `host:port`. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port` or `[v6]:port`; a string is the error. */
export function parseListen(text: string): HostPort | string {
  const example = 'use "host:port", e.g. "0.0.0.0:7400"';
  const match = /^(\[[^\]]+\]|[^:\s]+):([^:]*)$/.exec(text);
  if (match === null) {
    return `${JSON.stringify(text)} is not an address: ${example}`;
  }
  const host = (match[1] ?? "").replace(/^\[|\]$/g, "");
  const port = checkPort(match[2] ?? "");
  if (typeof port === "string") return port;
  if (match[1]?.startsWith("[") && !isIpv6(host)) {
    return `${JSON.stringify(host)} is not an IPv6 address: ${example}`;
  }
  return { host, port };
}

function checkPort(text: string): number | string {
  if (!/^[0-9]+$/.test(text)) {
    return `The port ${
      JSON.stringify(text)
    } must be a number between 1 and ${PORT_MAX}`;
  }
  const port = Number(text);
  if (port < 1 || port > PORT_MAX) {
    return `The port "${text}" is out of range: use 1 to ${PORT_MAX}`;
  }
  return port;
}

/** Checks a URL's scheme and port; returns an error sentence or null. */
export function checkUrl(
  text: string,
  schemes: readonly string[],
  example: string,
): string | null {
  const wanted = schemes.map((s) => `${s}://`).join(" or ");
  const match =
    /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#]*)(?::([^/?#]*))?/
      .exec(text);
  if (match === null) {
    return `${JSON.stringify(text)} must be a ${wanted} URL, e.g. "${example}"`;
  }
  const scheme = (match[1] ?? "").toLowerCase();
  if (!schemes.includes(scheme)) {
    return `${JSON.stringify(text)} must be a ${wanted} URL, e.g. "${example}"`;
  }
  if ((match[2] ?? "") === "") {
    return `${JSON.stringify(text)} has no host, e.g. "${example}"`;
  }
  if (match[3] !== undefined) {
    const port = checkPort(match[3]);
    if (typeof port === "string") return port;
  }
  try {
    new URL(text);
  } catch (_error: unknown) {
    // The URL parser gives no useful reason; our message says what to write.
    return `${JSON.stringify(text)} is not a valid URL, e.g. "${example}"`;
  }
  return null;
}

/** Checks `address/prefix` for IPv4 or IPv6; returns an error sentence or null. */
export function checkCidr(text: string): string | null {
  const hint = 'e.g. "10.0.0.0/8" or "fd00::/8"';
  const [address = "", prefix, ...rest] = text.split("/");
  if (prefix === undefined || rest.length > 0 || !/^[0-9]{1,3}$/.test(prefix)) {
    return `${JSON.stringify(text)} is not a CIDR block: ${hint}`;
  }
  const bits = Number(prefix);
  if (isIpv4(address)) {
    return bits <= 32
      ? null
      : `The prefix "/${prefix}" must be at most 32 for IPv4`;
  }
  if (isIpv6(address)) {
    return bits <= 128
      ? null
      : `The prefix "/${prefix}" must be at most 128 for IPv6`;
  }
  return `${JSON.stringify(address)} is not an IP address: ${hint}`;
}

/** True for dotted-quad IPv4. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^[0-9]{1,3}$/.test(part) && Number(part) <= 255);
}

/** True for an IPv6 address (validated by the WHATWG URL host parser). */
export function isIpv6(text: string): boolean {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch (_error: unknown) {
    // The URL parser rejected the address: it is not IPv6.
    return false;
  }
}

/** True for `/abs/path`, `C:\path`, `C:/path` and `\\server\share`. */
export function isAbsolutePath(text: string): boolean {
  return text.startsWith("/") || /^[a-zA-Z]:[\\/]/.test(text) ||
    text.startsWith("\\\\");
}
