import assert from "node:assert/strict";
import { parse } from "yaml";
import { renderUserData, validateDownload } from "../../src/cli/_userdata.ts";
import {
  INSTALL_PATHS,
  secretsPathUnit,
  systemdUnit,
} from "../../src/cli/_systemd_unit.ts";

const CONFIG = `node:
  id: web-1
  listen: 0.0.0.0:7400
  advertise: ws://10.0.0.1:7400
cluster:
  secret: QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=
  peers:
    - { id: web-2, url: "ws://10.0.0.2:7400" }
    - { id: arbiter, url: "ws://10.0.0.3:7400", role: witness }
drivers:
  - type: bash
    promote: /etc/clustd/hooks/promote.sh
`;
const SHA = "a".repeat(64);

function render(): Promise<string> {
  return renderUserData({
    configText: CONFIG,
    secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
    binaryUrl: "https://example.com/clustd-x86_64-unknown-linux-gnu",
    sha256: SHA,
    hooks: [{
      path: "/etc/clustd/hooks/promote.sh",
      content: "#!/bin/sh\necho hi\n",
      mode: "0755",
    }],
  });
}

Deno.test("renderUserData writes config, 0600 secret, hooks and unit, then starts clustd", async () => {
  const text = await render();
  assert.ok(text.startsWith("#cloud-config\n"));
  const doc = parse(text) as {
    write_files: { path: string; permissions: string; content: string }[];
    runcmd: string[][];
  };
  const byPath = new Map(doc.write_files.map((f) => [f.path, f]));
  const secret = byPath.get(INSTALL_PATHS.secret);
  assert.equal(secret?.permissions, "0600");
  assert.equal(
    secret?.content.trim(),
    "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
  );
  const config = parse(byPath.get(INSTALL_PATHS.config)?.content ?? "") as {
    cluster: Record<string, unknown>;
  };
  assert.equal(
    config.cluster["secret"],
    undefined,
    "inline secret moved out of the config",
  );
  assert.equal(config.cluster["secret_file"], INSTALL_PATHS.secret);
  assert.equal(byPath.get("/etc/clustd/hooks/promote.sh")?.permissions, "0755");
  assert.equal(byPath.get(INSTALL_PATHS.unit)?.content, systemdUnit());
  const script = doc.runcmd[0]?.join(" ") ?? "";
  assert.match(
    script,
    new RegExp(
      `echo '${SHA}  /usr/local/bin/clustd.download' \\| sha256sum -c -`,
    ),
  );
  assert.deepEqual(doc.runcmd.at(-1), [
    "systemctl",
    "enable",
    "--now",
    "clustd.service",
  ]);
});

Deno.test("validateDownload refuses bad URLs and digests", () => {
  assert.equal(validateDownload("https://x.example/clustd", SHA), null);
  assert.match(validateDownload("ftp://x/clustd", SHA) ?? "", /http/);
  assert.match(validateDownload("https://x/a'b", SHA) ?? "", /shell/);
  assert.match(
    validateDownload("https://x/clustd", "abc") ?? "",
    /64 hexadecimal/,
  );
});

Deno.test("cloud-init schema accepts the rendered user-data", async (t) => {
  const which = await new Deno.Command("sh", {
    args: ["-c", "command -v cloud-init"],
  }).output();
  if (!which.success) {
    throw new Error(
      "cloud-init is not installed: .ci/run installs Debian's cloud-init package",
    );
  }
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/user-data`;
    Deno.writeTextFileSync(file, await render());
    const out = await new Deno.Command("cloud-init", {
      args: ["schema", "--config-file", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    await t.step("valid", () => assert.ok(out.success, text));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("systemd-analyze verifies the service and the secrets path unit", async () => {
  const which = await new Deno.Command("sh", {
    args: ["-c", "command -v systemd-analyze"],
  }).output();
  if (!which.success) {
    throw new Error(
      "systemd-analyze is not installed: .ci/run installs Debian's systemd package",
    );
  }
  const dir = Deno.makeTempDirSync();
  try {
    // An existing binary, so verify checks the unit, not this machine.
    Deno.writeTextFileSync(
      `${dir}/clustd.service`,
      systemdUnit({ binary: "/bin/true" }),
    );
    Deno.writeTextFileSync(`${dir}/clustd-secrets.path`, secretsPathUnit());
    const out = await new Deno.Command("systemd-analyze", {
      args: [
        "verify",
        `${dir}/clustd.service`,
        `${dir}/clustd-secrets.path`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    assert.equal(text.trim(), "", text);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
