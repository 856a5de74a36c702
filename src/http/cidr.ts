/**
 * CIDR matching for `cluster.status_allow` (IPv4 and IPv6). Pure; an
 * unparsable address or network never matches.
 */

function parseIpv4(address: string): bigint | null {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(address: string): bigint | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : (halves[0] ?? "").split(":");
  const tail = halves.length === 2 && halves[1] !== ""
    ? (halves[1] ?? "").split(":")
    : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [
    ...head,
    ...Array(halves.length === 2 ? missing : 0).fill("0"),
    ...tail,
  ];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** Parses an address into (bits, width), or null. */
export function parseAddress(address: string): [bigint, number] | null {
  const v4 = parseIpv4(address);
  if (v4 !== null) return [v4, 32];
  const v6 = parseIpv6(address);
  return v6 === null ? null : [v6, 128];
}

/** True when `cidr` (e.g. `10.0.0.0/8`, `::1/128`) is well-formed. */
export function isValidCidr(cidr: string): boolean {
  const [net, bitsText] = cidr.split("/");
  const parsed = parseAddress(net ?? "");
  if (parsed === null) return false;
  if (bitsText === undefined) return true;
  if (!/^\d{1,3}$/.test(bitsText)) return false;
  return Number(bitsText) <= parsed[1];
}

/** True when `address` lies in `cidr`. */
export function inCidr(address: string, cidr: string): boolean {
  const target = parseAddress(address);
  const [net, bitsText] = cidr.split("/");
  const network = parseAddress(net ?? "");
  if (target === null || network === null || target[1] !== network[1]) {
    return false;
  }
  const width = network[1];
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const shift = BigInt(width - bits);
  return (target[0] >> shift) === (network[0] >> shift);
}

/** True when `address` is in any of `cidrs`. */
export function isAllowed(address: string, cidrs: string[]): boolean {
  return cidrs.some((cidr) => inCidr(address, cidr));
}
