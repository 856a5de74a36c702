/**
 * The config's program checks (scripts and check commands must exist, be
 * regular executable files and, for root, be owned by root and writable only
 * by their owner), driver and check ids, and peer URLs: each error names the
 * key path and the line. Files are faked through the inspector callback; one
 * case goes through loadConfig() on real files.
 */

import assert from "node:assert/strict";
import { inspectFile, loadConfig } from "../../src/config/load.ts";
import { programProblem } from "../../src/config/_programs.ts";
import type { ConfigResult, FileInspection } from "../../src/config/types.ts";
import { validateConfig } from "../../src/config/validate.ts";

const SECRET = new Uint8Array(32).fill(7).toBase64();

/** Fake program files and directories: path -> what a stat finds. */
const PROGRAMS: Record<string, FileInspection> = {
  "/": { ok: true, isFile: false, mode: 0o040755, uid: 0 },
  "/p": { ok: true, isFile: false, mode: 0o040755, uid: 0 },
  "/tmp": { ok: true, isFile: false, mode: 0o041777, uid: 0 },
  "/tmp/ok": { ok: true, isFile: true, mode: 0o100755, uid: 0 },
  "/open": { ok: true, isFile: false, mode: 0o040777, uid: 0 },
  "/open/sub": { ok: true, isFile: false, mode: 0o040755, uid: 0 },
  "/open/sub/ok": { ok: true, isFile: true, mode: 0o100755, uid: 0 },
  "/home": { ok: true, isFile: false, mode: 0o040755, uid: 1000 },
  "/home/ok": { ok: true, isFile: true, mode: 0o100755, uid: 0 },
  "/p/ok": { ok: true, isFile: true, mode: 0o100755, uid: 0 },
  "/p/dir": { ok: true, isFile: false, mode: 0o040755, uid: 0 },
  "/p/plain": { ok: true, isFile: true, mode: 0o100644, uid: 0 },
  "/p/group-w": { ok: true, isFile: true, mode: 0o100775, uid: 0 },
  "/p/other-w": { ok: true, isFile: true, mode: 0o100757, uid: 0 },
  "/p/users": { ok: true, isFile: true, mode: 0o100755, uid: 1000 },
  "/p/mine-nox": { ok: true, isFile: true, mode: 0o100644, uid: 1000 },
  "/p/both": { ok: true, isFile: true, mode: 0o100777, uid: 1000 },
  "/p/root-only": { ok: true, isFile: true, mode: 0o100700, uid: 0 },
};

/** A valid one-voter config with `extra` lines appended (drivers at line 9). */
function validate(
  extra: string[],
  options: { uid?: number | null; peers?: string[] } = {},
): ConfigResult {
  const peers = options.peers ?? [];
  const text = [
    "node:", // 1
    "  id: web-1", // 2
    "  advertise: ws://10.0.0.1:7400", // 3
    "cluster:", // 4
    `  secret: "${SECRET}"`, // 5
    `  peers: [${peers.join(", ")}]`, // 6
    "  heartbeat_ms: 100", // 7
    "state_dir: /tmp/clustd-state", // 8
    ...extra,
  ].join("\n") + "\n";
  return validateConfig(text, {
    file: "config.yml",
    readFile: () => ({ ok: false, message: "unused" }),
    programs: {
      inspect: (path) =>
        PROGRAMS[path] ?? { ok: false, message: "no such file" },
      uid: options.uid === undefined ? 0 : options.uid,
    },
  });
}

/** The errors as `line:path: message`. */
function errors(result: ConfigResult): string[] {
  return result.ok
    ? []
    : result.errors.map((e) => `${e.line}:${e.path}: ${e.message}`);
}

const programCases: [string, string, number | null, RegExp][] = [
  [
    "missing",
    "/p/nope",
    0,
    /^"\/p\/nope" cannot be used: no such file\. Create it or fix the path$/,
  ],
  ["a directory", "/p/dir", 0, /"\/p\/dir" is not a regular file/],
  [
    "not executable",
    "/p/plain",
    0,
    /"\/p\/plain" is not executable \(mode 0644\): run "chmod \+x \/p\/plain"/,
  ],
  [
    "group-writable, as root",
    "/p/group-w",
    0,
    /writable by group or others \(mode 0775\), and clustd runs as root.*"chmod go-w \/p\/group-w"$/,
  ],
  [
    "writable by others, as root",
    "/p/other-w",
    0,
    /writable by group or others \(mode 0757\)/,
  ],
  [
    "owned by another user, as root",
    "/p/users",
    0,
    /owned by user id 1000, and clustd runs as root.*"chown root \/p\/users"$/,
  ],
  [
    "writable by others and owned by another user, as root",
    "/p/both",
    0,
    /^"\/p\/both" is writable by group or others \(mode 0777\) and owned by user id 1000, and clustd runs as root.*run "chmod go-w \/p\/both" and "chown root \/p\/both"$/,
  ],
  [
    "in a world-writable directory, as root",
    "/open/sub/ok",
    0,
    /^"\/open\/sub\/ok" is in "\/open", which is writable by group or others \(mode 0777\), and clustd runs as root.*"chmod go-w \/open", or move the program$/,
  ],
  [
    "in a directory of another user, as root",
    "/home/ok",
    0,
    /^"\/home\/ok" is in "\/home", which is owned by user id 1000, and clustd runs as root/,
  ],
  [
    "not executable by its owner, as that user",
    "/p/mine-nox",
    1000,
    /is not executable \(mode 0644\)/,
  ],
  [
    "executable by root only, as another user",
    "/p/root-only",
    1000,
    /is not executable \(mode 0700\)/,
  ],
];

for (const [name, path, uid, message] of programCases) {
  Deno.test(`validateConfig() refuses a script that is ${name}, naming key and line`, () => {
    const result = validate([
      "drivers:", // 9
      "  - type: bash", // 10
      "    promote: /p/ok", // 11
      `    demote: ${path}`, // 12
    ], { uid });
    const found = errors(result);
    assert.equal(found.length, 1, found.join("\n"));
    assert.ok(found[0]?.startsWith("12:drivers[0].demote: "), found[0]);
    assert.match(
      found[0]?.slice("12:drivers[0].demote: ".length) ?? "",
      message,
    );
  });
}

Deno.test("validateConfig() checks pre_promote and check commands too", () => {
  const result = validate([
    "drivers:", // 9
    "  - { type: bash, pre_promote: /p/nope }", // 10
    "checks:", // 11
    "  - command: /p/plain", // 12
    "    args: [-q]", // 13
  ]);
  assert.deepEqual(errors(result).map((e) => e.split(":").slice(0, 2)), [
    ["10", "drivers[0].pre_promote"],
    ["12", "checks[0].command"],
  ]);
});

Deno.test("validateConfig() accepts a program in root's sticky /tmp", () => {
  const found = errors(validate([
    "drivers:",
    "  - { type: bash, promote: /tmp/ok }",
  ]));
  assert.deepEqual(found, []);
});

Deno.test("validateConfig() accepts as another user what root must refuse", () => {
  const lines = [
    "drivers:",
    "  - { type: bash, promote: /p/group-w, demote: /home/ok }",
  ];
  assert.equal(errors(validate(lines, { uid: 1000 })).length, 0);
  assert.equal(errors(validate(lines, { uid: null })).length, 0);
  assert.equal(errors(validate(lines, { uid: 0 })).length, 2);
});

Deno.test("programProblem() leaves modes alone where there are none (Windows)", () => {
  const file: FileInspection = {
    ok: true,
    isFile: true,
    mode: null,
    uid: null,
  };
  assert.equal(programProblem("C:/x.cmd", file, { uid: null }), null);
});

Deno.test("drivers and checks get readable default ids per type and position", () => {
  const result = validate([
    "drivers:",
    "  - { type: bash, promote: /p/ok }",
    "  - { type: webhook, url: https://h.example/x }",
    "  - { type: bash, id: vip, promote: /p/ok }",
    "  - { type: bash, promote: /p/ok }",
    "checks:",
    "  - { command: /p/ok }",
    "  - { id: nginx, command: /p/ok }",
  ]);
  assert.ok(result.ok, errors(result).join("\n"));
  assert.deepEqual(result.config.drivers.map((d) => d.id), [
    "bash-0",
    "webhook-0",
    "vip",
    "bash-2",
  ]);
  assert.deepEqual(result.config.checks.map((c) => c.id), ["check-0", "nginx"]);
});

Deno.test("validateConfig() refuses duplicate and malformed driver and check ids", () => {
  const result = validate([
    "drivers:", // 9
    "  - { type: bash, promote: /p/ok }", // 10
    "  - { type: bash, id: bash-0, promote: /p/ok }", // 11
    "  - { type: webhook, id: Web, url: https://h.example/x }", // 12
    "  - { type: webhook, id: bash-0, url: https://h.example/y }", // 13
    "checks:", // 14
    "  - { id: c, command: /p/ok }", // 15
    "  - { id: c, command: /p/ok }", // 16
  ]);
  const found = errors(result);
  assert.deepEqual(
    found.map((e) => e.split(": ")[0]),
    [
      "11:drivers[1].id",
      "12:drivers[2].id",
      "13:drivers[3].id",
      "16:checks[1].id",
    ],
    found.join("\n"),
  );
  assert.match(
    found[0] ?? "",
    /Duplicate driver id "bash-0", also used by drivers\[0\]/,
  );
  assert.match(found[1] ?? "", /"Web" is not a valid id/);
  assert.match(
    found[3] ?? "",
    /Duplicate check id "c", also used by checks\[0\]/,
  );
});

Deno.test("validateConfig() names a default id that collides with a given one", () => {
  const found = errors(validate([
    "drivers:", // 9
    "  - { type: bash, id: bash-1, promote: /p/ok }", // 10
    "  - { type: bash, promote: /p/ok }", // 11
  ]));
  assert.equal(found.length, 1);
  assert.match(
    found[0] ?? "",
    /^11:drivers\[1\]: Duplicate driver id "bash-1" \(its default id\)/,
  );
});

Deno.test("validateConfig() refuses two peers at one URL and a peer at this node's address", () => {
  const found = errors(validate([], {
    peers: [
      "{ id: a, url: ws://10.0.0.2:7400 }",
      "{ id: b, url: ws://10.0.0.2:7400/ }",
      "{ id: c, url: ws://10.0.0.1:7400 }",
      "{ id: d, url: ws://10.0.0.4:7400, role: witness }",
    ],
  }));
  assert.equal(found.length, 2, found.join("\n"));
  assert.match(
    found[0] ?? "",
    /^6:cluster\.peers\[1\]\.url: Duplicate URL "ws:\/\/10\.0\.0\.2:7400\/", also used by cluster\.peers\[0\]/,
  );
  assert.match(
    found[1] ?? "",
    /^6:cluster\.peers\[2\]\.url: "ws:\/\/10\.0\.0\.1:7400" is this node's own address \(node\.advertise\)/,
  );
});

Deno.test("inspectFile() and loadConfig() judge real files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/hook.sh`;
    await Deno.writeTextFile(script, "#!/bin/sh\n");
    await Deno.chmod(script, 0o644);
    const seen = inspectFile(script);
    assert.ok(seen.ok && seen.isFile && seen.mode !== null);
    assert.equal((seen.mode ?? 0) & 0o777, 0o644);
    assert.deepEqual(inspectFile(`${dir}/nope`), {
      ok: false,
      message: "no such file",
    });
    await Deno.writeTextFile(
      `${dir}/c.yml`,
      `node: { id: n1, advertise: "ws://127.0.0.1:1" }\ncluster: { secret: "${SECRET}", peers: [] }\nstate_dir: ${dir}\ndrivers:\n  - { type: bash, promote: ${script} }\n`,
    );
    // An inline secret needs a config only its owner can read.
    await Deno.chmod(`${dir}/c.yml`, 0o600);
    // Commands that only need the address and secret (status...) do not judge.
    assert.ok((await loadConfig(`${dir}/c.yml`)).ok);
    const result = await loadConfig(`${dir}/c.yml`, { programs: true });
    assert.equal(result.ok, false);
    assert.match(
      errors(result).join("\n"),
      /^5:drivers\[0\]\.promote: ".*hook\.sh" is not executable \(mode 0644\)/,
    );
    await Deno.chmod(script, 0o755);
    const fixed = await loadConfig(`${dir}/c.yml`, { programs: true });
    assert.ok(fixed.ok, errors(fixed).join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
