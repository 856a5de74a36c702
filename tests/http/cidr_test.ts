/** CIDR matching for status_allow, including IPv4-mapped IPv6 (issue 11). */

import assert from "node:assert/strict";
import { inCidr, isAllowed, parseAddress } from "../../src/http/cidr.ts";

Deno.test("inCidr() matches IPv4-mapped networks and sources as IPv4", () => {
  const table: [string, string, boolean][] = [
    // A mapped network admits IPv4 sources, mapped or plain.
    ["10.1.2.3", "::ffff:10.0.0.0/104", true],
    ["::ffff:10.1.2.3", "::ffff:10.0.0.0/104", true],
    ["::ffff:a01:203", "::ffff:10.0.0.0/104", true],
    ["11.1.2.3", "::ffff:10.0.0.0/104", false],
    ["::ffff:11.1.2.3", "::ffff:10.0.0.0/104", false],
    ["::ffff:10.9.9.9", "::ffff:a00:0/104", true],
    ["10.9.9.9", "::ffff:10.9.9.9/128", true],
    ["10.9.9.8", "::ffff:10.9.9.9/128", false],
    ["1.2.3.4", "::ffff:0.0.0.0/96", true],
    // A plain IPv4 network admits mapped sources.
    ["::ffff:127.0.0.1", "127.0.0.0/8", true],
    ["::FFFF:7F00:1", "127.0.0.0/8", true],
    ["::ffff:128.0.0.1", "127.0.0.0/8", false],
    // Other IPv6 networks stay IPv6-only, even the widest.
    ["10.1.2.3", "::/0", false],
    ["::ffff:10.1.2.3", "::/0", false],
    ["fd00::1", "::/0", true],
    ["::1", "::ffff:127.0.0.0/104", false],
    ["::fffe:10.1.2.3", "::ffff:10.0.0.0/104", false],
    // Malformed dotted tails never match.
    ["::ffff:10.1.2.300", "::ffff:10.0.0.0/104", false],
    ["10.1.2.3", "::ffff:10.0.0.256/104", false],
  ];
  for (const [address, cidr, expected] of table) {
    assert.equal(inCidr(address, cidr), expected, `${address} in ${cidr}`);
  }
});

Deno.test("parseAddress() reads a dotted-quad IPv6 tail", () => {
  assert.deepEqual(parseAddress("::ffff:10.0.0.1"), [
    0xffff0a000001n,
    128,
  ]);
  assert.deepEqual(parseAddress("64:ff9b::192.0.2.33"), [
    (0x64n << 112n) | (0xff9bn << 96n) | 0xc0000221n,
    128,
  ]);
  assert.equal(parseAddress("::ffff:1.2.3"), null);
  assert.equal(parseAddress("1.2.3.4::"), null);
});

Deno.test("isAllowed() admits a dual-stack IPv4 client through a mapped entry", () => {
  assert.equal(isAllowed("::ffff:10.0.0.7", ["::ffff:10.0.0.0/104"]), true);
  assert.equal(
    isAllowed("10.0.0.7", ["fd00::/8", "::ffff:10.0.0.0/104"]),
    true,
  );
  assert.equal(isAllowed("10.0.0.7", ["fd00::/8"]), false);
});
