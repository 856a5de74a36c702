/** loadConfig(), resolveConfigPath() and formatIssue() against real files. */

import assert from "node:assert/strict";
import {
  formatIssue,
  loadConfig,
  resolveConfigPath,
} from "../../src/config/load.ts";
import { generateSecret } from "../../src/config/secret.ts";

const CONFIG = (secretFile: string) =>
  `node:
  id: a
  advertise: ws://127.0.0.1:7400
cluster:
  secret_file: ${secretFile}
  peers: []
state_dir: state
`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "clustd-load-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resolveConfigPath() prefers --config, then $CLUSTD_CONFIG, then ./config.yml", () => {
  const saved = Deno.env.get("CLUSTD_CONFIG");
  try {
    Deno.env.set("CLUSTD_CONFIG", "/from/env.yml");
    assert.deepEqual(resolveConfigPath("/from/flag.yml"), {
      path: "/from/flag.yml",
      source: "--config",
    });
    assert.deepEqual(resolveConfigPath(undefined), {
      path: "/from/env.yml",
      source: "$CLUSTD_CONFIG",
    });
    Deno.env.delete("CLUSTD_CONFIG");
    assert.deepEqual(resolveConfigPath(undefined), {
      path: "config.yml",
      source: "default",
    });
  } finally {
    if (saved === undefined) Deno.env.delete("CLUSTD_CONFIG");
    else Deno.env.set("CLUSTD_CONFIG", saved);
  }
});

Deno.test("loadConfig() names the path tried and how it was chosen when the file is missing", async () => {
  const result = await loadConfig("/nonexistent/clustd.yml", {
    source: "$CLUSTD_CONFIG",
  });
  assert.equal(result.ok, false);
  if (result.ok) return;
  const text = formatIssue(result.errors[0]!);
  assert.match(text, /"\/nonexistent\/clustd.yml" \(from \$CLUSTD_CONFIG\)/);
  assert.match(text, /clustd init/);
});

Deno.test("loadConfig() resolves relative secret_file and state_dir against the config's directory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/secret`, generateSecret(), {
      mode: 0o600,
    });
    await Deno.writeTextFile(`${dir}/config.yml`, CONFIG("secret"));
    const result = await loadConfig(`${dir}/config.yml`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    assert.equal(result.config.cluster.secretSource, `${dir}/secret`);
    assert.equal(result.config.stateDir, `${dir}/state`);
    assert.equal(result.config.path, `${dir}/config.yml`);
    assert.deepEqual(result.warnings, []);
  });
});

Deno.test(
  "loadConfig() refuses a secret file readable by group or others",
  {
    ignore: Deno.build.os === "windows",
  },
  async () => {
    await withDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/secret`, generateSecret());
      await Deno.chmod(`${dir}/secret`, 0o640);
      await Deno.writeTextFile(`${dir}/config.yml`, CONFIG(`${dir}/secret`));
      const result = await loadConfig(`${dir}/config.yml`);
      assert.equal(result.ok, false);
      assert.equal(result.errors.length, 1);
      assert.match(
        formatIssue(result.errors[0]!),
        /config.yml:5:16: cluster.secret_file: .*mode 0640.*chmod 600/,
      );
    });
  },
);

Deno.test("loadConfig() reports an unreadable secret file as an error", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/secret`);
    await Deno.writeTextFile(`${dir}/config.yml`, CONFIG(`${dir}/secret`));
    const result = await loadConfig(`${dir}/config.yml`);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.errors[0]?.path, "cluster.secret_file");
    assert.match(result.errors[0]?.message ?? "", /Cannot read/);
  });
});

Deno.test("formatIssue() renders file:line:column: path: message and omits unknown parts", () => {
  assert.equal(
    formatIssue({
      file: "c.yml",
      line: 12,
      column: 7,
      path: "cluster.heartbeat_ms",
      message: "Bad",
    }),
    "c.yml:12:7: cluster.heartbeat_ms: Bad",
  );
  assert.equal(
    formatIssue({ file: "c.yml", path: "", message: "Empty" }),
    "c.yml: Empty",
  );
});
