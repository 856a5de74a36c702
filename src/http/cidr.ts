/**
 * CIDR matching for `cluster.status_allow` (IPv4 and IPv6). Pure; an
 * unparsable address or network never matches.
 *
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack listener reports
 * for an IPv4 client) is IPv4: such addresses and networks (prefix ≥ 96)
 * are compared as IPv4, so `::ffff:10.0.0.0/104` and `10.0.0.0/8` admit the
 * same clients whichever way they connect. Other IPv6 networks (even
 * `::/0`) match only IPv6 sources.
 */

/** `::ffff:0:0/96`: the IPv4-mapped block, as the top 96 bits. */
const IPV4_MAPPED_PREFIX = 0xffffn;
const IPV4_MAPPED_BITS = 96;

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

function parseIpv6(text: string): bigint | null {
  // A dotted-quad tail (`::ffff:10.0.0.1`) stands for the last two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let address = text;
  if (dotted !== null) {
    const v4 = parseIpv4(dotted[2] ?? "");
    if (v4 === null) return null;
    address = `${dotted[1]}${(v4 >> 16n).toString(16)}:${
      (v4 & 0xffffn).toString(16)
    }`;
  }
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

/** True for an IPv6 value inside `::ffff:0:0/96`. */
function isIpv4Mapped([value, width]: [bigint, number]): boolean {
  return width === 128 && value >> 32n === IPV4_MAPPED_PREFIX;
}

/** True when `address` lies in `cidr`. */
export function inCidr(address: string, cidr: string): boolean {
  let target = parseAddress(address);
  const [net, bitsText] = cidr.split("/");
  let network = parseAddress(net ?? "");
  if (target === null || network === null) return false;
  let bits = bitsText === undefined ? network[1] : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > network[1]) return false;
  if (isIpv4Mapped(target)) target = [target[0] & 0xffffffffn, 32];
  if (isIpv4Mapped(network) && bits >= IPV4_MAPPED_BITS) {
    network = [network[0] & 0xffffffffn, 32];
    bits -= IPV4_MAPPED_BITS;
  }
  if (target[1] !== network[1]) return false;
  const shift = BigInt(network[1] - bits);
  return (target[0] >> shift) === (network[0] >> shift);
}

/** True when `address` is in any of `cidrs`. */
export function isAllowed(address: string, cidrs: string[]): boolean {
  return cidrs.some((cidr) => inCidr(address, cidr));
}
