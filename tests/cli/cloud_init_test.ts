/**
 * `clustd cloud-init` and `clustd systemd-unit` through the real CLI: every
 * kind of user-data it can print (inline secret or secret file, with and
 * without hooks and a driver token) passes `cloud-init schema`, and the files
 * it writes have the right content and modes.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { runCli } from "./_run.ts";

const SHA = "b".repeat(64);
const URL_ARG = "https://releases.example.com/clustd-x86_64-unknown-linux-gnu";

interface UserData {
  write_files: { path: string; permissions: string; content: string }[];
  runcmd: string[][];
}

function secret(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64();
}

function variants(dir: string): Record<string, string> {
  const hook = `${dir}/promote.sh`;
  Deno.writeTextFileSync(hook, "#!/bin/sh\necho promoted\n", { mode: 0o755 });
  Deno.writeTextFileSync(`${dir}/secret`, secret(), { mode: 0o600 });
  Deno.writeTextFileSync(`${dir}/token`, secret(), { mode: 0o600 });
  const base = (cluster: string, drivers: string) =>
    `node:\n  id: web-1\n  advertise: ws://10.0.0.1:7400\ncluster:\n${cluster}  peers:\n    - { id: web-2, url: "ws://10.0.0.2:7400" }\n    - { id: arb, url: "ws://10.0.0.3:7400", role: witness }\n${drivers}`;
  return {
    inline: base(`  secret: ${secret()}\n`, ""),
    file: base(
      `  secret_file: ${dir}/secret\n`,
      `drivers:\n  - type: bash\n    promote: ${hook}\n`,
    ),
    token: base(
      `  secret_file: ${dir}/secret\n  driver_token_file: ${dir}/token\n`,
      `drivers:\n  - type: external\n    id: lb\n  - type: bash\n    promote: ${hook}\n    demote: ${hook}\n`,
    ),
  };
}

async function schemaCheck(
  file: string,
): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command("cloud-init", {
    args: ["schema", "--config-file", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    ok: out.success,
    text: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

Deno.test("every user-data clustd cloud-init prints passes cloud-init schema with the right files", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "clustd-cloud-init-" });
  try {
    for (const [name, yaml] of Object.entries(variants(dir))) {
      const config = `${dir}/${name}.yml`;
      // An inline secret needs a config only its owner can read.
      Deno.writeTextFileSync(config, yaml, { mode: 0o600 });
      const result = await runCli([
        "cloud-init",
        "--config",
        config,
        "--binary-url",
        URL_ARG,
        "--sha256",
        SHA,
      ]);
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      const file = `${dir}/${name}.user-data`;
      Deno.writeTextFileSync(file, result.stdout);
      const schema = await schemaCheck(file);
      assert.ok(schema.ok, `${name}: ${schema.text}`);
      const data = parse(result.stdout) as UserData;
      const byPath = new Map(data.write_files.map((f) => [f.path, f]));
      assert.equal(byPath.get("/etc/clustd/secret")?.permissions, "0600", name);
      assert.match(
        byPath.get("/etc/clustd/secret")?.content ?? "",
        /^[A-Za-z0-9+/=]{44}\n$/,
        name,
      );
      const installed = parse(
        byPath.get("/etc/clustd/config.yml")?.content ?? "",
      ) as {
        cluster: Record<string, unknown>;
      };
      assert.equal(
        installed.cluster["secret_file"],
        "/etc/clustd/secret",
        name,
      );
      assert.equal(installed.cluster["secret"], undefined, name);
      assert.equal(
        byPath.get("/etc/systemd/system/clustd.service")?.permissions,
        "0644",
        name,
      );
      if (name === "token") {
        assert.equal(
          byPath.get("/etc/clustd/driver-token")?.permissions,
          "0600",
        );
        assert.equal(
          installed.cluster["driver_token_file"],
          "/etc/clustd/driver-token",
        );
      }
      if (name !== "inline") {
        assert.equal(
          byPath.get(`${dir}/promote.sh`)?.permissions,
          "0755",
          name,
        );
        assert.equal(
          byPath.get(`${dir}/promote.sh`)?.content,
          "#!/bin/sh\necho promoted\n",
        );
      }
      assert.ok(
        data.runcmd.some((c) => c.join(" ").includes(`sha256sum -c -`)),
        name,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("clustd cloud-init --without-secrets keeps every secret out of the user-data and waits for them", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "clustd-cloud-init-" });
  try {
    const yaml = variants(dir).token ?? "";
    const config = `${dir}/token.yml`;
    Deno.writeTextFileSync(config, yaml, { mode: 0o600 });
    const result = await runCli([
      "cloud-init",
      "--config",
      config,
      "--binary-url",
      URL_ARG,
      "--sha256",
      SHA,
      "--without-secrets",
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (const path of [`${dir}/secret`, `${dir}/token`]) {
      const secret = Deno.readTextFileSync(path).trim();
      assert.ok(!result.stdout.includes(secret), `${path} is in the user-data`);
    }
    const file = `${dir}/without.user-data`;
    Deno.writeTextFileSync(file, result.stdout);
    const schema = await schemaCheck(file);
    assert.ok(schema.ok, schema.text);
    const data = parse(result.stdout) as UserData;
    const byPath = new Map(data.write_files.map((f) => [f.path, f]));
    assert.equal(byPath.has("/etc/clustd/secret"), false);
    assert.equal(byPath.has("/etc/clustd/driver-token"), false);
    assert.equal(byPath.get("/etc/clustd/config.yml")?.permissions, "0600");
    const installed = parse(
      byPath.get("/etc/clustd/config.yml")?.content ?? "",
    ) as { cluster: Record<string, unknown> };
    assert.equal(installed.cluster["secret_file"], "/etc/clustd/secret");
    assert.equal(
      installed.cluster["driver_token_file"],
      "/etc/clustd/driver-token",
    );
    assert.match(
      byPath.get("/etc/systemd/system/clustd-secrets.path")?.content ?? "",
      /^PathExists=\/etc\/clustd\/secret$/m,
    );
    const commands = data.runcmd.map((c) => c.join(" "));
    assert.ok(commands.includes("systemctl enable --now clustd-secrets.path"));
    assert.ok(!commands.includes("systemctl enable --now clustd.service"));
    // The operator is told how to copy them, token first, atomically.
    const lines = result.stderr.trim().split("\n");
    const token = lines.findIndex((l) =>
      l.includes("/etc/clustd/driver-token")
    );
    const secret = lines.findIndex((l) =>
      l.includes("> /etc/clustd/secret.tmp")
    );
    assert.ok(token >= 0 && secret > token, result.stderr);
    assert.match(lines[secret] ?? "", /umask 077 && cat > .*&& mv /);
    // A webhook's inline secret would travel in the config: refused.
    Deno.writeTextFileSync(
      config,
      `${yaml}  - type: webhook\n    url: https://hooks.example.com/x\n    secret: ${
        crypto.getRandomValues(new Uint8Array(32)).toBase64()
      }\n`,
      { mode: 0o600 },
    );
    const refused = await runCli([
      "cloud-init",
      "--config",
      config,
      "--binary-url",
      URL_ARG,
      "--sha256",
      SHA,
      "--without-secrets",
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /drivers\[2\]\.secret would still travel/);
    assert.equal(refused.stdout, "");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("clustd cloud-init refuses a bad digest or URL with exit 2, systemd-unit prints the unit", async () => {
  const bad = await runCli([
    "cloud-init",
    "--binary-url",
    URL_ARG,
    "--sha256",
    "xyz",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--sha256 must be 64 hexadecimal digits/);
  const missing = await runCli(["cloud-init"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--binary-url and --sha256 are required/);
  const unit = await runCli(["systemd-unit", "--binary", "/opt/clustd"]);
  assert.equal(unit.code, 0);
  assert.match(
    unit.stdout,
    /^ExecStart=\/opt\/clustd run --config \/etc\/clustd\/config.yml$/m,
  );
  assert.match(unit.stdout, /^KillSignal=SIGTERM$/m);
});
