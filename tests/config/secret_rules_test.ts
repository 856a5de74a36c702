/**
 * validateConfig() keeps each secret with its one party (issue 11): a config
 * holding an inline secret that group or others can read, a driver token or
 * a webhook secret equal to the cluster secret are errors naming the key
 * path and line; none quotes a secret.
 */

import assert from "node:assert/strict";
import type { ConfigResult } from "../../src/config/types.ts";
import { type FileRead, validateConfig } from "../../src/config/validate.ts";

const SECRET = new Uint8Array(32).fill(7).toBase64();
const OTHER = new Uint8Array(32).fill(9).toBase64();
const FILES: Record<string, FileRead> = {
  "/s/secret": { ok: true, text: SECRET, mode: 0o100600 },
  "/s/same": { ok: true, text: SECRET, mode: 0o100600 },
  "/s/other": { ok: true, text: OTHER, mode: 0o100600 },
};

function config(cluster: string[], drivers: string[] = []): string {
  return [
    "node:",
    "  id: web-1",
    "  advertise: ws://127.0.0.1:7400",
    "cluster:",
    ...cluster,
    "  peers:",
    "    - { id: web-2, url: ws://127.0.0.2:7400 }",
    "    - { id: arb, url: ws://127.0.0.3:7400, role: witness }",
    ...(drivers.length === 0 ? [] : ["drivers:", ...drivers]),
  ].join("\n") + "\n";
}

function validate(text: string, configMode: number | null): ConfigResult {
  return validateConfig(text, {
    file: "config.yml",
    readFile: (path) => FILES[path] ?? { ok: false, message: "no such file" },
    configMode,
  });
}

const WEBHOOK = ["  - type: webhook", "    url: https://hooks.example.com/x"];

Deno.test("validateConfig() refuses secrets another party could use, naming key and line", () => {
  const cases: {
    name: string;
    text: string;
    mode: number | null;
    error: { path: string; line: number; message: RegExp } | null;
  }[] = [
    {
      name: "inline secret, config 0644",
      text: config([`  secret: ${SECRET}`]),
      mode: 0o100644,
      error: {
        path: "cluster.secret",
        line: 5,
        message:
          /"config.yml" holds this secret and is readable by group or others \(mode 0644\): run "chmod 600 config.yml"/,
      },
    },
    {
      name: "inline secret, config 0600",
      text: config([`  secret: ${SECRET}`]),
      mode: 0o100600,
      error: null,
    },
    {
      name: "inline secret, mode unknown",
      text: config([`  secret: ${SECRET}`]),
      mode: null,
      error: null,
    },
    {
      name: "secret file, config 0644",
      text: config(["  secret_file: /s/secret"]),
      mode: 0o100644,
      error: null,
    },
    {
      name: "inline webhook secret, config 0640",
      text: config(["  secret_file: /s/secret"], [
        ...WEBHOOK,
        `    secret: ${OTHER}`,
      ]),
      mode: 0o100640,
      error: {
        path: "drivers[0].secret",
        line: 12,
        message: /holds this secret .*mode 0640/,
      },
    },
    {
      name: "webhook secret equal to the cluster secret",
      text: config(["  secret_file: /s/secret"], [
        ...WEBHOOK,
        `    secret: ${SECRET}`,
      ]),
      mode: 0o100600,
      error: {
        path: "drivers[0].secret",
        line: 12,
        message: /The webhook secret is the cluster secret.*derive-key webhook/,
      },
    },
    {
      name: "driver token equal to the cluster secret",
      text: config([
        "  secret_file: /s/secret",
        "  driver_token_file: /s/same",
      ]),
      mode: 0o100600,
      error: {
        path: "cluster.driver_token_file",
        line: 6,
        message: /The driver token is the cluster secret/,
      },
    },
    {
      name: "driver token of its own",
      text: config([
        "  secret_file: /s/secret",
        "  driver_token_file: /s/other",
      ]),
      mode: 0o100600,
      error: null,
    },
  ];
  for (const c of cases) {
    const result = validate(c.text, c.mode);
    if (c.error === null) {
      assert.ok(result.ok, `${c.name}: ${JSON.stringify(result)}`);
      continue;
    }
    assert.equal(result.ok, false, c.name);
    if (result.ok) continue;
    assert.equal(result.errors.length, 1, c.name);
    const [issue] = result.errors;
    assert.equal(issue?.path, c.error.path, c.name);
    assert.equal(issue?.line, c.error.line, c.name);
    assert.match(issue?.message ?? "", c.error.message, c.name);
    assert.ok(!issue?.message.includes(SECRET), `${c.name} quotes the secret`);
  }
});
