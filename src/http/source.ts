/**
 * The "source" a connection counts against for per-source caps, rate
 * limits and log aggregation: an IPv4 address as is, an IPv6 address by its
 * /64 (one host usually owns a whole /64, so counting single addresses would
 * give it 2^64 budgets), an IPv4-mapped IPv6 address as its IPv4 address.
 * Pure.
 */

/** The source key of `hostname` (as Deno reports a remote address). */
export function sourceKey(hostname: string): string {
  const bare = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!bare.includes(":")) return bare;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped !== null) return mapped[1]!;
  const groups = expandIpv6(bare);
  if (groups === undefined) return bare;
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight groups of an IPv6 address without leading zeros, or undefined. */
function expandIpv6(address: string): string[] | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const split = (part: string | undefined) =>
    part === undefined || part === "" ? [] : part.split(":");
  const head = split(halves[0]);
  const tail = split(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [
    ...head,
    ...Array(halves.length === 2 ? missing : 0).fill("0"),
    ...tail,
  ];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
