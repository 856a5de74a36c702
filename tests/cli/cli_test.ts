/**
 * The CLI as users run it: exit codes, usage errors without stack traces,
 * keygen, init round-tripping through check-config, and help on every command.
 */

import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { COMMANDS } from "../../src/cli/commands.ts";
import { decodeSecret } from "../../src/config/secret.ts";
import { runCli, runMain, withTempDir } from "./_run.ts";

const STACK_LINE = /^\s+at /m;

Deno.test("derive-key names what is missing with exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["derive-key"], /Say which key: "webhook" or "driver ID"/],
    [["derive-key", "driver"], /Name the external driver/],
    [["derive-key", "webhook", "x"], /Unexpected argument "x"/],
    [["derive-key", "other"], /Say which key/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, message, args.join(" "));
  }
});

Deno.test("keygen prints a secret of at least 32 bytes, different each call", async () => {
  const [a, b] = await Promise.all([runCli(["keygen"]), runCli(["keygen"])]);
  for (const run of [a, b]) {
    assert.equal(run.code, 0, run.stderr);
    const bytes = decodeSecret(run.stdout);
    assert.ok(bytes instanceof Uint8Array, String(bytes));
    assert.ok(bytes.length >= 32);
  }
  assert.notEqual(a.stdout, b.stdout);
});

Deno.test("init writes a config and a 0600 secret that pass check-config", async () => {
  await withTempDir(async (dir) => {
    const init = await runCli([
      "init",
      "--id=web-1",
      "--advertise=ws://10.0.0.1:7400",
      "--peer=web-2=ws://10.0.0.2:7400",
      "--witness-peer=arbiter=ws://10.0.0.3:7400",
      "--priority=150",
      `--dir=${dir}`,
    ]);
    assert.equal(init.code, 0, init.stderr);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${dir}/secret`)).mode! & 0o777, 0o600);
    }
    const config = await Deno.readTextFile(`${dir}/config.yml`);
    assert.match(config, new RegExp(`secret_file: "${dir}/secret"`));
    const check = await runCli(["check-config", `${dir}/config.yml`]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, "");
    assert.match(check.stdout, /valid .*3 members/);
  });
});

Deno.test("init output validates for one node, a two-node pair and a witness", async () => {
  const variants = [
    ["--id=solo", "--advertise=ws://127.0.0.1:7400"],
    [
      "--id=a",
      "--advertise=ws://127.0.0.1:7400",
      "--peer=b=ws://127.0.0.2:7400",
    ],
    [
      "--id=w",
      "--witness",
      "--advertise=ws://127.0.0.3:7400",
      "--peer=a=ws://127.0.0.1:7400",
      "--peer=b=ws://127.0.0.2:7400",
    ],
  ];
  await withTempDir(async (dir) => {
    for (const [index, flags] of variants.entries()) {
      const init = await runMain(["init", ...flags, `--dir=${dir}/${index}`]);
      assert.equal(init.code, 0, init.stderr);
      const check = await runMain([
        "check-config",
        `${dir}/${index}/config.yml`,
      ]);
      assert.equal(check.code, 0, check.stderr);
    }
    // The pair is valid only with two_node, and says so loudly.
    const pair = await runMain(["check-config", `${dir}/1/config.yml`]);
    assert.match(pair.stderr, /warning: .*two_node.*two masters/);
  });
});

Deno.test("init can reuse an existing secret with --secret-file", async () => {
  await withTempDir(async (dir) => {
    assert.equal(
      (await runMain([
        "init",
        "--id=a",
        "--advertise=ws://127.0.0.1:1",
        `--dir=${dir}/a`,
      ])).code,
      0,
    );
    const second = await runMain([
      "init",
      "--id=b",
      "--advertise=ws://127.0.0.2:1",
      `--secret-file=${dir}/a/secret`,
      `--dir=${dir}/b`,
    ]);
    assert.equal(second.code, 0, second.stderr);
    await assert.rejects(Deno.stat(`${dir}/b/secret`));
    assert.equal(
      (await runMain(["check-config", `${dir}/b/config.yml`])).code,
      0,
    );
  });
});

Deno.test("init refuses to overwrite without --force and overwrites with it", async () => {
  await withTempDir(async (dir) => {
    const flags = [
      "init",
      "--id=a",
      "--advertise=ws://127.0.0.1:7400",
      `--dir=${dir}`,
    ];
    assert.equal((await runMain(flags)).code, 0);
    const config = await Deno.readTextFile(`${dir}/config.yml`);
    const secret = await Deno.readTextFile(`${dir}/secret`);
    const again = await runCli(flags);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exist.*--force/);
    assert.doesNotMatch(again.stderr, STACK_LINE);
    assert.equal(await Deno.readTextFile(`${dir}/config.yml`), config);
    assert.equal(await Deno.readTextFile(`${dir}/secret`), secret);
    const forced = await runMain([...flags, "--id=b", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await Deno.readTextFile(`${dir}/secret`), secret);
    assert.match(await Deno.readTextFile(`${dir}/config.yml`), /id: "b"/);
  });
});

Deno.test("init reports bad flag values by flag, before writing anything", async () => {
  await withTempDir(async (dir) => {
    const run = await runMain([
      "init",
      "--id=Bad_Id",
      "--advertise=http://x",
      "--peer=b=tcp://y",
      `--dir=${dir}`,
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--id: "Bad_Id" is not a valid id/);
    assert.match(run.stderr, /--advertise: .*ws:\/\//);
    assert.match(run.stderr, /--peer\/--witness-peer: .*ws:\/\//);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.equal((await runMain(["init", `--dir=${dir}`])).code, 2);
    assert.equal(
      (await runMain(["init", "--id=a", "--advertise=ws://x:1", "--peer=nope"]))
        .code,
      2,
    );
  });
});

Deno.test("unknown commands and flags are usage errors (exit 2) without a stack trace", async () => {
  const cases = [
    ["frobnicate"],
    ["--bogus"],
    ["check-config", "--bogus"],
    ["init", "--id"],
    ["keygen", "extra"],
    ["status", "--to=x"],
    ["version", "--log-format=xml"],
    ["--config"],
  ];
  const runs = await Promise.all(cases.map((args) => runCli(args)));
  runs.forEach((run, index) => {
    const args = cases[index]!.join(" ");
    assert.equal(run.code, 2, `${args}: ${run.stderr}`);
    assert.match(run.stderr, /^error: .*\n\nUsage: clustd/m, args);
    assert.doesNotMatch(run.stderr, STACK_LINE, args);
  });
  assert.match(runs[0]!.stderr, /Unknown command "frobnicate"/);
  assert.match(runs[1]!.stderr, /Unknown option "--bogus"/);
});

Deno.test("a misspelt command gets a suggestion; a bare clustd prints usage and exits 2", async () => {
  const typo = await runMain(["chek-config"]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /did you mean "check-config"\?/);
  const bare = await runMain([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /Usage: clustd <command>/);
});

Deno.test("--help and -h work on every command and list global options", async () => {
  for (const command of COMMANDS) {
    for (const flag of ["--help", "-h"]) {
      const run = await runMain([command.name, flag]);
      assert.equal(run.code, 0, `${command.name} ${flag}`);
      assert.ok(
        run.stdout.startsWith(`Usage: clustd ${command.name}`),
        run.stdout,
      );
      assert.match(run.stdout, /--log-format/);
    }
    const help = await runMain(["help", command.name]);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith(`Usage: clustd ${command.name}`));
  }
  const overview = await runMain(["--help"]);
  assert.equal(overview.code, 0);
  for (const command of COMMANDS) {
    assert.match(overview.stdout, new RegExp(`  ${command.name} `));
  }
});

Deno.test("version prints the deno.json version", async () => {
  for (const args of [["version"], ["--version"]]) {
    const run = await runMain(args);
    assert.equal(run.code, 0);
    assert.match(
      run.stdout,
      new RegExp(`^clustd ${denoJson.version.replace(/\./g, "\\.")} `),
    );
  }
});

Deno.test("check-config exits 2 with every error, path and line, through the real CLI", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/config.yml`;
    await Deno.writeTextFile(
      file,
      [
        "node:",
        "  id: web-1",
        "  advertise: ws://127.0.0.1:7400",
        "  priority: 300",
        "cluster:",
        '  secret: "dG9vIHNob3J0"',
        "  peers: [{ id: web-2, url: http://127.0.0.2:7400 }]",
        '  heartbeat_ms: "5"',
        "  heartbeat: 5",
      ].join("\n"),
    );
    const run = await runCli(["check-config", file]);
    assert.equal(run.code, 2);
    const lines = [
      /config.yml:4:13: node.priority: "300" must be an integer between 0 and 255/,
      /config.yml:6:11: cluster.secret: .*decodes to 9 bytes/,
      /config.yml:7:10: cluster.peers: Two voters without a witness/,
      /config.yml:7:29: cluster.peers\[0\].url: .*ws:\/\//,
      /config.yml:8:17: cluster.heartbeat_ms: "5" must be an integer between 10 and 60000/,
      /config.yml:9:3: cluster.heartbeat: Unknown key "heartbeat": did you mean "heartbeat_ms"\?/,
      /has 6 errors/,
    ];
    for (const line of lines) assert.match(run.stderr, line);
    assert.doesNotMatch(run.stderr, STACK_LINE);
  });
});

Deno.test("check-config finds the file via --config, $CLUSTD_CONFIG and names a missing default", async () => {
  await withTempDir(async (dir) => {
    await runMain([
      "init",
      "--id=a",
      "--advertise=ws://127.0.0.1:7400",
      `--dir=${dir}`,
    ]);
    const viaFlag = await runMain([
      "--config",
      `${dir}/config.yml`,
      "check-config",
    ]);
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    const viaEnv = await runCli(["check-config"], {
      CLUSTD_CONFIG: `${dir}/config.yml`,
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const missing = await runCli(["check-config"], {
      CLUSTD_CONFIG: `${dir}/nope.yml`,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope.yml" \(from \$CLUSTD_CONFIG\)/);
  });
});

Deno.test("run refuses a bad config with exit 2, reporting every error", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.yml`, "node: {}\n");
    const bad = await runMain(["run", "--config", `${dir}/bad.yml`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /node.id: Missing required key "id"/);
    assert.match(bad.stderr, /cluster: Missing required key "cluster"/);
  });
});

Deno.test("check-config never prints a stack trace for garbage input", async () => {
  await withTempDir(async (dir) => {
    const inputs = [
      "\u0000\u00ff",
      "[",
      "a: b: c",
      "node: &a [*a]",
      "%YAML 9.9\n---\nx",
      "---\na\n---\nb\n",
    ];
    for (const [index, text] of inputs.entries()) {
      await Deno.writeTextFile(`${dir}/${index}.yml`, text);
      const run = await runMain(["check-config", `${dir}/${index}.yml`]);
      assert.equal(run.code, 2, JSON.stringify(text));
      assert.doesNotMatch(run.stderr, STACK_LINE);
    }
  });
});
