/**
 * Validation of the resource drivers (`type: vip`, `type: floating_ip`):
 * defaults, required keys per provider, the token file, and programs that
 * must exist (a missing `arping` is a config error naming the package).
 */
import assert from "node:assert/strict";
import type { ConfigResult } from "../../src/config/types.ts";
import { type FileRead, validateConfig } from "../../src/config/validate.ts";

const SECRET = new Uint8Array(32).fill(7).toBase64();
const FILES: Record<string, FileRead> = {
  "/s/secret": { ok: true, text: SECRET, mode: 0o100600 },
  "/s/do": { ok: true, text: "dop_v1_abc\n", mode: 0o100600 },
  "/s/aws": { ok: true, text: "AKID\nSECRET\n", mode: 0o100600 },
  "/s/aws1": { ok: true, text: "AKID\n", mode: 0o100600 },
  "/s/open": { ok: true, text: "tok", mode: 0o100644 },
};

const HEAD = [
  "node: { id: web-1, listen: 127.0.0.1:7400, advertise: ws://127.0.0.1:7400 }",
  "cluster:",
  "  secret_file: /s/secret",
  "  peers: [{ id: web-2, url: ws://127.0.0.2:7400 }, { id: w, url: ws://127.0.0.3:7400, role: witness }]",
  "drivers:",
];

function validate(
  drivers: string[],
  programs: (paths: readonly string[]) => string | null = (p) => p[0] ?? null,
): ConfigResult {
  return validateConfig([...HEAD, ...drivers].join("\n") + "\n", {
    file: "config.yml",
    readFile: (path) => FILES[path] ?? { ok: false, message: "no such file" },
    findProgram: programs,
  });
}

function errors(result: ConfigResult): string[] {
  return result.ok
    ? []
    : result.errors.map((e) => `${e.path}:${e.line}: ${e.message}`);
}

Deno.test("validateConfig() reads a vip driver with its defaults and resolved programs", () => {
  const result = validate([
    "  - { type: vip, address: 10.0.0.100/24, interface: eth0, label: 'eth0:vip' }",
    "  - { type: vip, address: '2001:db8::100/64', interface: eth1, reconcile_ms: 500 }",
  ]);
  assert.ok(result.ok, JSON.stringify(errors(result)));
  assert.deepEqual(result.config.drivers, [
    {
      type: "vip",
      id: "vip-0",
      address: "10.0.0.100/24",
      interface: "eth0",
      label: "eth0:vip",
      announceCount: 3,
      announceIntervalMs: 10_000,
      reconcileMs: 2000,
      ipProgram: "/usr/sbin/ip",
      announceProgram: "/usr/bin/arping",
    },
    {
      type: "vip",
      id: "vip-1",
      address: "2001:db8::100/64",
      interface: "eth1",
      announceCount: 3,
      announceIntervalMs: 10_000,
      reconcileMs: 500,
      ipProgram: "/usr/sbin/ip",
      announceProgram: "/usr/sbin/na6",
    },
  ]);
});

Deno.test("validateConfig() refuses a vip whose programs are missing, naming the package", () => {
  const result = validate(
    ["  - { type: vip, address: 10.0.0.100/24, interface: eth0 }"],
    (paths) => paths.some((p) => p.endsWith("/ip")) ? "/sbin/ip" : null,
  );
  const text = errors(result).join("\n");
  assert.match(text, /drivers\[0\]\.type:6: The vip driver needs "arping"/);
  assert.match(text, /iputils-arping/);
});

const BAD_VIP: [string, string, RegExp][] = [
  [
    "no prefix",
    "{ type: vip, address: 10.0.0.100, interface: eth0 }",
    /drivers\[0\]\.address.*not an address with a prefix/,
  ],
  [
    "prefix too long",
    "{ type: vip, address: 10.0.0.100/33, interface: eth0 }",
    /not an address with a prefix/,
  ],
  [
    "no interface",
    "{ type: vip, address: 10.0.0.100/24 }",
    /Missing required key "interface"/,
  ],
  [
    "bad interface",
    "{ type: vip, address: 10.0.0.100/24, interface: 'eth0; rm' }",
    /not an interface name/,
  ],
  [
    "label of another interface",
    "{ type: vip, address: 10.0.0.100/24, interface: eth0, label: 'eth1:x' }",
    /must be "eth0:"/,
  ],
  [
    "label on IPv6",
    "{ type: vip, address: '2001:db8::1/64', interface: eth0, label: 'eth0:x' }",
    /IPv4 addresses only/,
  ],
  [
    "announce_count 0",
    "{ type: vip, address: 10.0.0.100/24, interface: eth0, announce_count: 0 }",
    /between 1 and 100/,
  ],
  [
    "unknown key",
    "{ type: vip, address: 10.0.0.100/24, interface: eth0, vrid: 5 }",
    /vrid/,
  ],
];

for (const [name, driver, pattern] of BAD_VIP) {
  Deno.test(`validateConfig() refuses a vip: ${name}`, () => {
    assert.match(errors(validate([`  - ${driver}`])).join("\n"), pattern);
  });
}

Deno.test("validateConfig() reads floating_ip drivers of each provider", () => {
  const result = validate([
    "  - { type: floating_ip, provider: digitalocean, ip: 203.0.113.10, token_file: /s/do }",
    "  - { type: floating_ip, provider: hetzner, ip: 203.0.113.11, floating_ip_id: 4711, token_file: /s/do, machine_id: 42 }",
    "  - { type: floating_ip, provider: aws, ip: 203.0.113.12, region: eu-west-1, token_file: /s/aws, api_url: 'http://127.0.0.9:8080/' }",
  ]);
  assert.ok(result.ok, JSON.stringify(errors(result)));
  const [d, h, a] = result.config.drivers;
  assert.deepEqual(d, {
    type: "floating_ip",
    id: "floating_ip-0",
    provider: "digitalocean",
    ip: "203.0.113.10",
    token: "dop_v1_abc",
    tokenFile: "/s/do",
    apiUrl: "https://api.digitalocean.com",
    metadataUrl: "http://169.254.169.254",
    timeoutMs: 10_000,
    retries: 5,
    readbackMs: 60_000,
    reconcileMs: 10_000,
  });
  assert.ok(h?.type === "floating_ip" && a?.type === "floating_ip");
  assert.equal(h.floatingIpId, "4711");
  assert.equal(h.machineId, "42");
  assert.equal(h.apiUrl, "https://api.hetzner.cloud/v1");
  assert.equal(a.apiUrl, "http://127.0.0.9:8080");
  assert.equal(a.token, "AKID\nSECRET");
});

const BAD_FLOATING: [string, string, RegExp][] = [
  [
    "no provider",
    "{ type: floating_ip, ip: 203.0.113.10, token_file: /s/do }",
    /Missing required key "provider"/,
  ],
  [
    "unknown provider",
    "{ type: floating_ip, provider: linode, ip: 203.0.113.10, token_file: /s/do }",
    /"digitalocean" or "hetzner" or "aws"/,
  ],
  [
    "bad ip",
    "{ type: floating_ip, provider: digitalocean, ip: 203.0.113, token_file: /s/do }",
    /not an IP address/,
  ],
  [
    "hetzner without id",
    "{ type: floating_ip, provider: hetzner, ip: 203.0.113.10, token_file: /s/do }",
    /floating_ip_id/,
  ],
  [
    "aws without region",
    "{ type: floating_ip, provider: aws, ip: 203.0.113.10, token_file: /s/aws }",
    /Missing required key "region"/,
  ],
  [
    "aws with a one-line token",
    "{ type: floating_ip, provider: aws, region: eu-west-1, ip: 203.0.113.10, token_file: /s/aws1 }",
    /secret access key on line 2/,
  ],
  [
    "missing token file",
    "{ type: floating_ip, provider: digitalocean, ip: 203.0.113.10, token_file: /s/none }",
    /Cannot read "\/s\/none"/,
  ],
  [
    "bad api_url",
    "{ type: floating_ip, provider: digitalocean, ip: 203.0.113.10, token_file: /s/do, api_url: 'ftp://x' }",
    /api_url/,
  ],
];

for (const [name, driver, pattern] of BAD_FLOATING) {
  Deno.test(`validateConfig() refuses a floating_ip: ${name}`, () => {
    assert.match(errors(validate([`  - ${driver}`])).join("\n"), pattern);
  });
}

Deno.test("validateConfig() warns about a token file others can read", () => {
  const result = validate([
    "  - { type: floating_ip, provider: digitalocean, ip: 203.0.113.10, token_file: /s/open }",
  ]);
  assert.ok(result.ok);
  assert.match(result.warnings.map((w) => w.message).join(), /chmod 600/);
});
