/**
 * `cluster.backend` and `cluster.etcd`: a valid etcd config with TLS files
 * and credentials, and each bad case naming the key path and the line.
 */

import assert from "node:assert/strict";
import type { ConfigResult } from "../../src/config/types.ts";
import { type FileRead, validateConfig } from "../../src/config/validate.ts";

const SECRET = new Uint8Array(32).fill(7).toBase64();
const FILES: Record<string, FileRead> = {
  "/s/secret": { ok: true, text: SECRET + "\n", mode: 0o100600 },
  "/s/ca.pem": { ok: true, text: "CA PEM", mode: 0o100644 },
  "/s/cert.pem": { ok: true, text: "CERT PEM", mode: 0o100644 },
  "/s/key.pem": { ok: true, text: "KEY PEM", mode: 0o100600 },
  "/s/password": { ok: true, text: "hunter2\n", mode: 0o100600 },
};

function validate(lines: string[]): ConfigResult {
  return validateConfig(lines.join("\n") + "\n", {
    file: "config.yml",
    readFile: (path) => FILES[path] ?? { ok: false, message: "no such file" },
  });
}

/** Two voters and no witness: fine with etcd (etcd keeps the quorum). */
const HEAD = [
  "node:", // 1
  "  id: web-1", // 2
  "  listen: 127.0.0.1:7400", // 3
  "  advertise: ws://127.0.0.1:7400", // 4
  "cluster:", // 5
  "  secret_file: /s/secret", // 6
  "  peers:", // 7
  "    - { id: web-2, url: ws://127.0.0.2:7400 }", // 8
  "  backend: etcd", // 9
];

Deno.test("config: backend etcd with TLS files and credentials", () => {
  const result = validate([
    ...HEAD,
    "  etcd:", // 10
    "    endpoints: [https://10.0.0.5:2379, https://10.0.0.6:2379]",
    "    prefix: /clustd/web",
    "    ttl_ms: 2000",
    "    ca_file: /s/ca.pem",
    "    cert_file: /s/cert.pem",
    "    key_file: /s/key.pem",
    "    username: clustd",
    "    password_file: /s/password",
  ]);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  assert.equal(result.config.cluster.backend, "etcd");
  assert.deepEqual(result.config.cluster.etcd, {
    endpoints: ["https://10.0.0.5:2379", "https://10.0.0.6:2379"],
    prefix: "/clustd/web",
    ttlMs: 2000,
    caCert: "CA PEM",
    cert: "CERT PEM",
    key: "KEY PEM",
    username: "clustd",
    password: "hunter2",
  });
});

Deno.test("config: backend defaults to mesh; etcd ttl defaults to 3000", () => {
  const mesh = validate([
    ...HEAD.slice(0, 8),
    "    - { id: w, url: ws://127.0.0.3:7400, role: witness }",
  ]);
  assert.ok(mesh.ok);
  assert.equal(mesh.config.cluster.backend, "mesh");
  assert.equal(mesh.config.cluster.etcd, undefined);
  const etcd = validate([
    ...HEAD,
    "  etcd: { endpoints: [http://127.0.0.1:2379], prefix: /c }",
  ]);
  assert.ok(etcd.ok);
  assert.equal(etcd.config.cluster.etcd?.ttlMs, 3000);
});

const BAD: {
  name: string;
  lines: string[];
  path: string;
  line: number;
  text: RegExp;
}[] = [
  {
    name: "etcd section without backend etcd",
    lines: [
      ...HEAD.slice(0, 8),
      "  two_node: true",
      "  etcd: { endpoints: [http://a:2379], prefix: /c }",
    ],
    path: "cluster.etcd",
    line: 10,
    text: /used only with "backend: etcd"/,
  },
  {
    name: "backend etcd without the section",
    lines: HEAD,
    path: "cluster.etcd",
    line: 6,
    text: /Missing required key "etcd"/,
  },
  {
    name: "unknown backend",
    lines: [...HEAD.slice(0, 8), "  backend: consul"],
    path: "cluster.backend",
    line: 9,
    text: /must be "mesh" or "etcd"/,
  },
  {
    name: "endpoint not http(s)",
    lines: [...HEAD, "  etcd: { endpoints: [ws://a:2379], prefix: /c }"],
    path: "cluster.etcd.endpoints",
    line: 10,
    text: /must be a http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "no endpoints",
    lines: [...HEAD, "  etcd: { endpoints: [], prefix: /c }"],
    path: "cluster.etcd.endpoints",
    line: 10,
    text: /at least one/,
  },
  {
    name: "prefix with trailing slash",
    lines: [...HEAD, "  etcd: { endpoints: [http://a:2379], prefix: /c/ }"],
    path: "cluster.etcd.prefix",
    line: 10,
    text: /no trailing/,
  },
  {
    name: "ttl not whole seconds",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [http://a:2379], prefix: /c, ttl_ms: 2500 }",
    ],
    path: "cluster.etcd.ttl_ms",
    line: 10,
    text: /whole seconds.*"3000"/,
  },
  {
    name: "ttl below one second",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [http://a:2379], prefix: /c, ttl_ms: 500 }",
    ],
    path: "cluster.etcd.ttl_ms",
    line: 10,
    text: /between 1000 and 60000/,
  },
  {
    name: "cert without key",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [https://a:2379], prefix: /c, cert_file: /s/cert.pem }",
    ],
    path: "cluster.etcd.cert_file",
    line: 10,
    text: /both "cert_file" and "key_file"/,
  },
  {
    name: "username without password_file",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [https://a:2379], prefix: /c, username: u }",
    ],
    path: "cluster.etcd.username",
    line: 10,
    text: /both "username" and "password_file"/,
  },
  {
    name: "unreadable password file",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [https://a:2379], prefix: /c, username: u, password_file: /nope }",
    ],
    path: "cluster.etcd.password_file",
    line: 10,
    text: /Cannot read "\/nope"/,
  },
  {
    name: "unknown etcd key",
    lines: [
      ...HEAD,
      "  etcd: { endpoints: [https://a:2379], prefix: /c, ttl: 3 }",
    ],
    path: "cluster.etcd.ttl",
    line: 10,
    text: /ttl/,
  },
];

for (const bad of BAD) {
  Deno.test(`config: etcd refuses ${bad.name}`, () => {
    const result = validate(bad.lines);
    assert.ok(!result.ok, `${bad.name} was accepted`);
    const issue = result.errors.find((error) => error.path === bad.path);
    assert.ok(
      issue,
      `no error at ${bad.path}: ${JSON.stringify(result.errors)}`,
    );
    assert.equal(issue.line, bad.line);
    assert.match(issue.message, bad.text);
  });
}

Deno.test("config: plain-HTTP endpoints with credentials warn", () => {
  const result = validate([
    ...HEAD,
    "  etcd: { endpoints: [http://a:2379], prefix: /c, username: u, password_file: /s/password }",
  ]);
  assert.ok(result.ok);
  assert.ok(
    result.warnings.some((w) =>
      w.path === "cluster.etcd.endpoints" && /unencrypted/.test(w.message)
    ),
  );
});
