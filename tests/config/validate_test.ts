/**
 * validateConfig() against a table of bad configs (each must name the key
 * path and the line), several errors at once, defaults of a good config,
 * the shipped config.example.yml, and a few cases through the real CLI.
 */

import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/load.ts";
import type { ConfigResult } from "../../src/config/types.ts";
import { type FileRead, validateConfig } from "../../src/config/validate.ts";

const SECRET = new Uint8Array(32).fill(7).toBase64();
const TOKEN = new Uint8Array(32).fill(8).toBase64();
const FILES: Record<string, FileRead> = {
  "/s/secret": { ok: true, text: SECRET + "\n", mode: 0o100600 },
  "/s/token": { ok: true, text: TOKEN, mode: 0o100600 },
  "/s/open": { ok: true, text: SECRET, mode: 0o100644 },
  "/s/short": { ok: true, text: "c2hvcnQ=", mode: 0o100600 },
};

function validate(text: string): ConfigResult {
  return validateConfig(text, {
    file: "config.yml",
    readFile: (path) => FILES[path] ?? { ok: false, message: "no such file" },
  });
}

/** A valid three-member config; cases edit it line by line (1-based). */
const BASE = [
  "node:", // 1
  "  id: web-1", // 2
  "  listen: 127.0.0.1:7400", // 3
  "  advertise: ws://127.0.0.1:7400", // 4
  "cluster:", // 5
  "  secret_file: /s/secret", // 6
  "  peers:", // 7
  "    - { id: web-2, url: ws://127.0.0.2:7400 }", // 8
  "    - { id: arbiter, url: ws://127.0.0.3:7400, role: witness }", // 9
  "  heartbeat_ms: 100", // 10
  "  election_timeout_ms: 300", // 11
  "state_dir: /tmp/clustd-state", // 12
];

/** BASE with line n replaced (null deletes it) and lines appended. */
function edit(
  replace: Record<number, string | null>,
  append: string[] = [],
): string {
  const lines: string[] = [];
  BASE.forEach((line, index) => {
    const replacement = replace[index + 1];
    if (replacement === undefined) lines.push(line);
    else if (replacement !== null) lines.push(replacement);
  });
  return [...lines, ...append].join("\n") + "\n";
}

interface BadCase {
  name: string;
  text: string;
  path: string;
  line: number;
  message: RegExp;
}

const BAD: BadCase[] = [
  {
    name: "invalid YAML (unclosed flow mapping)",
    text: edit({ 8: "    - { id: web-2, url: ws://127.0.0.2:7400" }),
    path: "",
    line: 9,
    message: /^Invalid YAML/,
  },
  {
    name: "duplicate key",
    text: edit({ 11: "  heartbeat_ms: 200" }),
    path: "",
    line: 11,
    message:
      /^Invalid YAML: Duplicate key "heartbeat_ms": it is already set on line 10/,
  },
  {
    name: "unknown key with a suggestion",
    text: edit({ 10: "  heartbeat: 100" }),
    path: "cluster.heartbeat",
    line: 10,
    message: /Unknown key "heartbeat": did you mean "heartbeat_ms"\?/,
  },
  {
    name: "unknown top-level key",
    text: edit({}, ["logging: { format: json }"]),
    path: "logging",
    line: 13,
    message: /did you mean "log"\?/,
  },
  {
    name: "unknown key without a close match",
    text: edit({ 4: "  advertise: ws://127.0.0.1:7400\n  colour: blue" }),
    path: "node.colour",
    line: 5,
    message: /expected one of id, listen/,
  },
  {
    name: "integer given as quoted text",
    text: edit({ 10: '  heartbeat_ms: "100"' }),
    path: "cluster.heartbeat_ms",
    line: 10,
    message:
      /"100" must be an integer between 10 and 60000 \(remove the quotes/,
  },
  {
    name: "peers given as text",
    text: edit({ 7: "  peers: web-2", 8: null, 9: null }),
    path: "cluster.peers",
    line: 7,
    message: /"web-2" must be a list/,
  },
  {
    name: "boolean given as yes",
    text: edit({ 11: "  election_timeout_ms: 300\n  preempt: yes" }),
    path: "cluster.preempt",
    line: 12,
    message: /"yes" must be true or false/,
  },
  {
    name: "listen port out of range",
    text: edit({ 3: "  listen: 127.0.0.1:70000" }),
    path: "node.listen",
    line: 3,
    message: /port "70000" is out of range/,
  },
  {
    name: "listen without a port",
    text: edit({ 3: "  listen: 127.0.0.1" }),
    path: "node.listen",
    line: 3,
    message: /is not an address/,
  },
  {
    name: "advertise port out of range",
    text: edit({ 4: "  advertise: ws://127.0.0.1:99999" }),
    path: "node.advertise",
    line: 4,
    message: /port "99999" is out of range/,
  },
  {
    name: "node priority above 255",
    text: edit({ 4: "  advertise: ws://127.0.0.1:7400\n  priority: 256" }),
    path: "node.priority",
    line: 5,
    message: /"256" must be an integer between 0 and 255/,
  },
  {
    name: "peer priority (set by each node itself since 0.2)",
    text: edit({
      8: "    - { id: web-2, url: ws://127.0.0.2:7400, priority: 90 }",
    }),
    path: "cluster.peers[0].priority",
    line: 8,
    message:
      /Peer priorities are no longer set here: every node sets its own in "node.priority".*config of "web-2".*Migration: peer priorities/,
  },
  {
    name: "heartbeat_ms below 10",
    text: edit({ 10: "  heartbeat_ms: 5" }),
    path: "cluster.heartbeat_ms",
    line: 10,
    message: /"5" must be an integer between 10 and 60000/,
  },
  {
    name: "heartbeat_ms above 60000",
    text: edit({ 10: "  heartbeat_ms: 60001", 11: null }),
    path: "cluster.heartbeat_ms",
    line: 10,
    message: /between 10 and 60000/,
  },
  {
    name: "election timeout below twice the heartbeat",
    text: edit({ 11: "  election_timeout_ms: 150" }),
    path: "cluster.election_timeout_ms",
    line: 11,
    message: /must be at least 2 × cluster.heartbeat_ms, that is "200"/,
  },
  {
    name: "lease too close to the election timeout",
    text: edit({ 11: "  election_timeout_ms: 300\n  lease_ms: 295" }),
    path: "cluster.lease_ms",
    line: 12,
    message: /"295" is unsafe.*use at most "294"/,
  },
  {
    name: "id with capitals and underscore",
    text: edit({ 2: "  id: Web_1" }),
    path: "node.id",
    line: 2,
    message: /"Web_1" is not a valid id/,
  },
  {
    name: "duplicated peer id",
    text: edit({
      9: "    - { id: web-2, url: ws://127.0.0.3:7400, role: witness }",
    }),
    path: "cluster.peers[1].id",
    line: 9,
    message: /Duplicate id "web-2", also used by cluster.peers\[0\]/,
  },
  {
    name: "own id among peers",
    text: edit({ 8: "    - { id: web-1, url: ws://127.0.0.2:7400 }" }),
    path: "cluster.peers[0].id",
    line: 8,
    message: /"web-1" is this node's own id/,
  },
  {
    name: "peer URL not ws or wss",
    text: edit({ 8: "    - { id: web-2, url: http://127.0.0.2:7400 }" }),
    path: "cluster.peers[0].url",
    line: 8,
    message: /must be a ws:\/\/ or wss:\/\/ URL/,
  },
  {
    name: "peer without url",
    text: edit({ 8: "    - { id: web-2 }" }),
    path: "cluster.peers[0].url",
    line: 8,
    message: /Missing required key "url"/,
  },
  {
    name: "both secret and secret_file",
    text: edit({ 6: `  secret_file: /s/secret\n  secret: ${SECRET}` }),
    path: "cluster.secret",
    line: 7,
    message: /Set either "secret" or "secret_file", not both/,
  },
  {
    name: "neither secret nor secret_file",
    text: edit({ 6: null }),
    path: "cluster.secret_file",
    line: 6,
    message: /Missing required key "secret_file"/,
  },
  {
    name: "secret not base64",
    text: edit({ 6: '  secret: "not base64!"' }),
    path: "cluster.secret",
    line: 6,
    message: /not valid base64/,
  },
  {
    name: "secret shorter than 32 bytes",
    text: edit({ 6: "  secret: c2hvcnQ=" }),
    path: "cluster.secret",
    line: 6,
    message: /decodes to 5 bytes, fewer than the 32 required/,
  },
  {
    name: "secret_file missing",
    text: edit({ 6: "  secret_file: /s/missing" }),
    path: "cluster.secret_file",
    line: 6,
    message: /Cannot read "\/s\/missing": no such file/,
  },
  {
    name: "secret_file with a short secret",
    text: edit({ 6: "  secret_file: /s/short" }),
    path: "cluster.secret_file",
    line: 6,
    message: /content of "\/s\/short" decodes to 5 bytes/,
  },
  {
    name: "witness with drivers",
    text: edit({ 4: "  advertise: ws://127.0.0.1:7400\n  role: witness" }, [
      "drivers:",
      "  - { type: bash, promote: /bin/true }",
    ]),
    path: "drivers",
    line: 15,
    message: /A witness never becomes master, so it runs no drivers/,
  },
  {
    name: "witness with checks",
    text: edit({ 4: "  advertise: ws://127.0.0.1:7400\n  role: witness" }, [
      "checks:",
      "  - { command: /bin/true }",
    ]),
    path: "checks",
    line: 15,
    message: /runs no checks/,
  },
  {
    name: "two voters without witness or two_node",
    text: edit({ 9: null }),
    path: "cluster.peers",
    line: 8,
    message: /Two voters without a witness.*two_node: true/,
  },
  {
    name: "two_node with a witness",
    text: edit({ 11: "  election_timeout_ms: 300\n  two_node: true" }),
    path: "cluster.two_node",
    line: 12,
    message: /needs exactly two voters and no witness/,
  },
  {
    name: "driver without type",
    text: edit({}, ["drivers:", "  - { promote: /bin/true }"]),
    path: "drivers[0].type",
    line: 14,
    message: /Missing required key "type"/,
  },
  {
    name: "driver with an unknown type",
    text: edit({}, ["drivers:", "  - { type: bsh, promote: /bin/true }"]),
    path: "drivers[0].type",
    line: 14,
    message: /"bsh" is not a driver type: did you mean "bash"\?/,
  },
  {
    name: "bash driver with an unknown field",
    text: edit({}, [
      "drivers:",
      "  - type: bash",
      "    promote: /bin/true",
      "    timeot_ms: 5",
    ]),
    path: "drivers[0].timeot_ms",
    line: 16,
    message: /did you mean "timeout_ms"\?/,
  },
  {
    name: "bash driver without scripts",
    text: edit({}, ["drivers:", "  - type: bash", "    timeout_ms: 5"]),
    path: "drivers[0]",
    line: 14,
    message: /needs at least one script/,
  },
  {
    name: "bash script with a relative path",
    text: edit({}, ["drivers:", "  - { type: bash, demote: demote.sh }"]),
    path: "drivers[0].demote",
    line: 14,
    message: /"demote.sh" must be an absolute path/,
  },
  {
    name: "webhook with an ftp URL",
    text: edit({}, ["drivers:", "  - { type: webhook, url: ftp://x/y }"]),
    path: "drivers[0].url",
    line: 14,
    message: /must be a http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "external driver without driver_token_file",
    text: edit({}, ["drivers:", "  - { type: external, id: proxy }"]),
    path: "drivers[0]",
    line: 14,
    message: /set "cluster.driver_token_file"/,
  },
  {
    name: "check without command",
    text: edit({}, ["checks:", "  - { interval_ms: 100 }"]),
    path: "checks[0].command",
    line: 14,
    message: /Missing required key "command"/,
  },
  {
    name: "check with an unknown field",
    text: edit({}, ["checks:", "  - { command: /bin/true, intervall_ms: 5 }"]),
    path: "checks[0].intervall_ms",
    line: 14,
    message: /did you mean "interval_ms"\?/,
  },
  {
    name: "check args not a list of text",
    text: edit({}, [
      "checks:",
      "  - command: /bin/true",
      "    args: [-q, [x]]",
    ]),
    path: "checks[0].args[1]",
    line: 15,
    message: /A list must be text/,
  },
  {
    name: "log format not text or json",
    text: edit({}, ["log:", "  format: xml"]),
    path: "log.format",
    line: 14,
    message: /"xml" must be "text" or "json"/,
  },
  {
    name: "status_allow with a bad CIDR",
    text: edit({
      11: '  election_timeout_ms: 300\n  status_allow: ["10.0.0.0/33"]',
    }),
    path: "cluster.status_allow[0]",
    line: 12,
    message: /at most 32 for IPv4/,
  },
  {
    name: "node without advertise",
    text: edit({ 4: null }),
    path: "node.advertise",
    line: 2,
    message: /Missing required key "advertise"/,
  },
];

for (const bad of BAD) {
  Deno.test(`validateConfig() rejects ${bad.name}, naming ${bad.path || "the file"} and line ${bad.line}`, () => {
    const result = validate(bad.text);
    assert.equal(result.ok, false, `expected errors for:\n${bad.text}`);
    if (result.ok) return;
    const match = result.errors.find((issue) =>
      issue.path === bad.path && bad.message.test(issue.message)
    );
    assert.ok(
      match,
      `no error at ${bad.path} matching ${bad.message}; got:\n${
        result.errors.map((e) =>
          `${e.line}:${e.column} ${e.path}: ${e.message}`
        ).join("\n")
      }`,
    );
    assert.equal(match.line, bad.line);
    assert.equal(match.file, "config.yml");
    assert.equal(typeof match.column, "number");
  });
}

Deno.test("the bad-config table has at least 25 cases", () => {
  assert.ok(BAD.length >= 25, `only ${BAD.length} cases`);
});

Deno.test("validateConfig() reports every error of a file at once, in file order", () => {
  const result = validate(edit({
    2: "  id: Web_1",
    3: "  listen: 127.0.0.1:0",
    8: "    - { id: web-2, url: tcp://127.0.0.2:7400 }",
    10: "  heartbeat_ms: 5",
  }, ["log: { format: xml }"]));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(
    result.errors.map((e) => [e.line, e.path]),
    [
      [2, "node.id"],
      [3, "node.listen"],
      [8, "cluster.peers[0].url"],
      [10, "cluster.heartbeat_ms"],
      [13, "log.format"],
    ],
  );
});

Deno.test("validateConfig() accepts a good config and fills the defaults", () => {
  const result = validate(edit({}));
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.warnings, []);
  const { node, cluster } = result.config;
  assert.deepEqual(node, {
    id: "web-1",
    listen: "127.0.0.1:7400",
    listenHost: "127.0.0.1",
    listenPort: 7400,
    advertise: "ws://127.0.0.1:7400",
    role: "voter",
    priority: 100,
  });
  assert.deepEqual(cluster.peers, [
    { id: "web-2", url: "ws://127.0.0.2:7400", role: "voter" },
    { id: "arbiter", url: "ws://127.0.0.3:7400", role: "witness" },
  ]);
  assert.equal(cluster.secret.length, 32);
  assert.equal(cluster.secretSource, "/s/secret");
  assert.equal(cluster.heartbeatMs, 100);
  assert.equal(cluster.electionTimeoutMs, 300);
  assert.equal(cluster.leaseMs, 270);
  assert.equal(cluster.rankDelayMs, 10);
  assert.equal(cluster.minHoldMs, 300);
  assert.equal(cluster.preempt, false);
  assert.equal(cluster.preemptDelayMs, 5000);
  assert.equal(cluster.twoNode, false);
  assert.deepEqual(cluster.statusAllow, ["127.0.0.0/8", "::1/128"]);
  assert.equal(result.config.stateDir, "/tmp/clustd-state");
  assert.deepEqual(result.config.drivers, []);
  assert.deepEqual(result.config.log, { format: "text", debug: "" });
});

Deno.test("validateConfig() defaults follow DESIGN §1 timing (E = 2h, L = 0.9E, Δ ≤ 100)", () => {
  const result = validate(edit({ 10: null, 11: null }));
  assert.ok(result.ok);
  const { cluster } = result.config;
  assert.equal(cluster.heartbeatMs, 1500);
  assert.equal(cluster.electionTimeoutMs, 3000);
  assert.equal(cluster.leaseMs, 2700);
  assert.equal(cluster.rankDelayMs, 100);
  assert.ok(cluster.leaseMs * 1.01 ** 2 < cluster.electionTimeoutMs);
});

Deno.test("validateConfig() reads drivers and checks with their defaults", () => {
  const result = validate(
    edit({ 6: "  secret_file: /s/secret\n  driver_token_file: /s/token" }, [
      "drivers:",
      "  - { type: bash, promote: /bin/true }",
      "  - { type: webhook, url: https://h.example/x }",
      "  - { type: external, id: proxy }",
      "checks:",
      "  - { command: /bin/true, interval_ms: 20000 }",
    ]),
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  assert.deepEqual(result.config.drivers, [
    { type: "bash", id: "bash-0", promote: "/bin/true", timeoutMs: 30000 },
    {
      type: "webhook",
      id: "webhook-0",
      url: "https://h.example/x",
      timeoutMs: 5000,
      retries: 5,
    },
    { type: "external", id: "proxy" },
  ]);
  assert.deepEqual(result.config.checks, [
    {
      id: "check-0",
      command: "/bin/true",
      args: [],
      intervalMs: 20000,
      timeoutMs: 10000,
      rise: 2,
      fall: 3,
    },
  ]);
  assert.equal(result.config.cluster.driverTokenFile, "/s/token");
  assert.equal(result.config.cluster.driverToken?.length, 32);
});

Deno.test("validateConfig() refuses a secret file readable by others", () => {
  const result = validate(edit({ 6: "  secret_file: /s/open" }));
  assert.equal(result.ok, false);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0]?.path, "cluster.secret_file");
  assert.equal(result.errors[0]?.line, 6);
  assert.match(result.errors[0]?.message ?? "", /mode 0644.*chmod 600/);
  assert.ok(!result.errors[0]?.message.includes(SECRET));
});

Deno.test("validateConfig() accepts two voters with two_node, loudly", () => {
  const result = validate(
    edit({ 9: null, 11: "  election_timeout_ms: 300\n  two_node: true" }),
  );
  assert.ok(result.ok);
  assert.equal(result.config.cluster.twoNode, true);
  assert.match(result.warnings[0]?.message ?? "", /two masters/);
});

Deno.test("validateConfig() forces a witness's priority to 0", () => {
  const result = validate(
    edit({ 4: "  advertise: ws://127.0.0.1:7400\n  role: witness" }),
  );
  assert.ok(result.ok);
  assert.equal(result.config.node.priority, 0);
});

Deno.test("validateConfig() reports an empty file and non-mapping top level", () => {
  for (const text of ["", "# only a comment\n", "- a\n- b\n", "just text\n"]) {
    const result = validate(text);
    assert.equal(result.ok, false, JSON.stringify(text));
  }
});

Deno.test("validateConfig() never throws on hostile input", () => {
  const inputs = [
    "a: &x [*x]\n",
    "node: !!binary aGVsbG8=\n",
    "? [a, b]\n: c\n",
    "node: { id: [1, 2], listen: {a: 1}, advertise: null, priority: 1.5 }\ncluster: []\n",
    "\u0000\u0001",
    "node:\n  id: " + "a".repeat(10_000) + "\n",
    "cluster:\n  peers: [1, null, ~, {}]\n  secret: 12345\n",
    "drivers: [1, [2], {type: [bash]}]\nchecks: {a: b}\n",
    "[".repeat(100_000),
    "{a: ".repeat(20_000),
  ];
  for (const text of inputs) {
    const result = validate(text);
    assert.equal(result.ok, false, JSON.stringify(text));
    for (const issue of result.errors) {
      assert.equal(typeof issue.message, "string");
    }
  }
});

Deno.test("config.example.yml passes validation (secret and program paths swapped for temp files)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = () => crypto.getRandomValues(new Uint8Array(32)).toBase64();
    await Deno.writeTextFile(`${dir}/secret`, key(), { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/token`, key(), { mode: 0o600 });
    const example = await Deno.readTextFile(
      new URL("../../config.example.yml", import.meta.url),
    );
    assert.ok(example.includes("/etc/clustd/secret"));
    let text = example
      .replace("secret_file: /etc/clustd/secret", `secret_file: ${dir}/secret`)
      .replace(
        "driver_token_file: /etc/clustd/driver-token",
        `driver_token_file: ${dir}/token`,
      )
      .replace("token_file: /etc/clustd/do-token", `token_file: ${dir}/token`);
    for (
      const program of [
        "/etc/clustd/promote.sh",
        "/etc/clustd/demote.sh",
        "/etc/clustd/pre-promote.sh",
        "/usr/local/bin/check-nginx",
      ]
    ) {
      assert.ok(text.includes(program), program);
      const copy = `${dir}/${program.split("/").pop()}`;
      await Deno.writeTextFile(copy, "#!/bin/sh\n", { mode: 0o755 });
      await Deno.chmod(copy, 0o755);
      text = text.replace(program, copy);
    }
    await Deno.writeTextFile(`${dir}/config.yml`, text);
    const result = await loadConfig(`${dir}/config.yml`, { programs: true });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    assert.deepEqual(result.warnings, []);
    assert.equal(result.config.drivers.length, 5);
    assert.equal(result.config.checks.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config.example.yml documents every key of the schema", async () => {
  const { KEYS } = await import("../../src/config/schema.ts");
  const example = await Deno.readTextFile(
    new URL("../../config.example.yml", import.meta.url),
  );
  for (const key of new Set(Object.values(KEYS).flat())) {
    assert.match(
      example,
      new RegExp(`(^|[\\s{,#])${key}:`, "m"),
      `key ${key} missing`,
    );
  }
});
