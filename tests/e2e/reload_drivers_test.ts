/**
 * SIGHUP and bash drivers on a real one-node cluster (`clustd run` on
 * loopback, started like `deno task clustd run`): a reload naming a missing,
 * non-executable or (as root) group-writable script is refused with the key
 * path and line and the old driver still acts; a reload that changes one of
 * two drivers runs nothing on the other. Each driver's scripts append
 * "<driver> <event> <term>" to one marks file. Kills only the process it
 * started, by PID, and removes its temp dir.
 */

import assert from "node:assert/strict";
import {
  clustdArgv,
  freePort,
  randomKey,
  readLog,
  ROOT,
  runClustd,
  spawnLogged,
  waitAtMost,
  waitFor,
} from "../_process.ts";

/** Longest wait for the node to promote, reload or stop. */
const WAIT_MS = 10_000;

/** One clustd node alone (a majority of one), in a temp dir. */
class SoloNode {
  readonly dir = Deno.makeTempDirSync({ prefix: "clustd-reload-" });
  readonly configPath = `${this.dir}/n1.yml`;
  readonly logPath = `${this.dir}/n1.log`;
  readonly marksPath = `${this.dir}/marks.log`;
  readonly #port = freePort();
  #child: Deno.ChildProcess | null = null;

  constructor() {
    Deno.writeTextFileSync(`${this.dir}/secret`, randomKey() + "\n", {
      mode: 0o600,
    });
  }

  /** Writes a script that appends "<label> $CLUSTD_EVENT $CLUSTD_TERM" to the marks. */
  script(name: string, label: string, mode = 0o755): string {
    const path = `${this.dir}/${name}`;
    Deno.writeTextFileSync(
      path,
      `#!/bin/sh\necho "${label} $CLUSTD_EVENT $CLUSTD_TERM" >> ${this.marksPath}\n`,
    );
    // chmod, not the write's mode: the umask would take bits off that one.
    Deno.chmodSync(path, mode);
    return path;
  }

  /** Writes the config with these `drivers:` entries (YAML lines). */
  configure(drivers: string[]): void {
    Deno.writeTextFileSync(
      this.configPath,
      `node:
  id: n1
  listen: 127.0.0.1:${this.#port}
  advertise: ws://127.0.0.1:${this.#port}
cluster:
  secret_file: ${this.dir}/secret
  peers: []
  heartbeat_ms: 200
  election_timeout_ms: 1000
state_dir: ${this.dir}/state
drivers:
${drivers.join("\n")}
`,
    );
  }

  start(): void {
    this.#child = spawnLogged(
      clustdArgv(["run", "--config", this.configPath]),
      this.logPath,
      { cwd: ROOT, env: { NO_COLOR: "1" } },
    );
  }

  /** Sends SIGHUP and returns the log lines it produced once `done` matched. */
  async reload(done: RegExp): Promise<string> {
    const before = readLog(this.logPath).length;
    const since = () => readLog(this.logPath).slice(before);
    this.#child?.kill("SIGHUP");
    const seen = await waitFor(() => done.test(since()), WAIT_MS);
    assert.ok(seen, `expected ${done} after SIGHUP, log:\n${since()}`);
    return since();
  }

  /** SIGTERM and wait for the exit (a master runs its demote drivers first). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    child.kill("SIGTERM");
    await waitAtMost(child.status, WAIT_MS);
    this.#child = null;
  }

  marks(): string[] {
    return readLog(this.marksPath).split("\n").filter((line) => line !== "");
  }

  async waitForMark(mark: string): Promise<void> {
    const seen = await waitFor(() => this.marks().includes(mark), WAIT_MS);
    assert.ok(
      seen,
      `expected "${mark}", marks: ${this.marks().join(" | ")}\nlog:\n${
        readLog(this.logPath)
      }`,
    );
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (child !== null) {
      try {
        child.kill("SIGKILL");
      } catch (_error: unknown) {
        // It exited on its own; the test reads its log.
      }
      await waitAtMost(child.status, WAIT_MS);
    }
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function bashDriver(id: string, promote: string, demote: string): string {
  return `  - type: bash\n    id: ${id}\n    promote: ${promote}\n    demote: ${demote}\n    timeout_ms: 3000`;
}

Deno.test("a reload naming a missing, non-executable or group-writable script is refused and the old driver still acts", async () => {
  const node = new SoloNode();
  try {
    const promote = node.script("a-promote.sh", "a");
    const demote = node.script("a-demote.sh", "a");
    node.configure([bashDriver("a", promote, demote)]);
    node.start();
    await node.waitForMark("a promote 1");

    const bad: [string, string, RegExp][] = [
      [`${node.dir}/missing.sh`, "missing", /cannot be used: no such file/],
      [
        node.script("plain.sh", "bad", 0o644),
        "not executable",
        /is not executable \(mode 0644\)/,
      ],
    ];
    if (Deno.uid() === 0) {
      bad.push([
        node.script("shared.sh", "bad", 0o775),
        "group-writable",
        /writable by group or others \(mode 0775\)/,
      ]);
    }
    for (const [script, what, message] of bad) {
      node.configure([bashDriver("a", script, demote)]);
      const log = await node.reload(/reload refused: config error/);
      assert.match(log, /n1\.yml:14:\d+: drivers\[0\]\.promote: /, what);
      assert.match(log, message, what);
      assert.doesNotMatch(log, /reload done/, what);
    }
    // The refused configs changed nothing: the old driver demotes on stop
    // (after the start demote every node runs at boot).
    await node.stop();
    assert.deepEqual(node.marks(), ["a demote 0", "a promote 1", "a demote 1"]);
  } finally {
    await node.close();
  }
});

Deno.test("a reload changing one of two drivers runs nothing on the other", async () => {
  const node = new SoloNode();
  try {
    const a = [node.script("a-p.sh", "a"), node.script("a-d.sh", "a")] as const;
    const b = [node.script("b-p.sh", "b"), node.script("b-d.sh", "b")] as const;
    node.configure([bashDriver("a", ...a), bashDriver("b", ...b)]);
    node.start();
    await node.waitForMark("a promote 1");
    await node.waitForMark("b promote 1");

    const b2 = node.script("b2-p.sh", "b2");
    node.configure([bashDriver("a", ...a), bashDriver("b", b2, b[1])]);
    const log = await node.reload(/reload done/);
    assert.match(log, /reloaded drivers ~b\b/);
    // The changed driver is told the current role once, in the same term.
    await node.waitForMark("b2 promote 1");
    // Unchanged config: nothing changes, nothing runs.
    assert.match(await node.reload(/reload done/), /nothing changed/);
    await node.stop();
    const marks = node.marks();
    assert.deepEqual(marks.filter((m) => m.startsWith("a ")), [
      "a demote 0",
      "a promote 1",
      "a demote 1",
    ], "driver a ran nothing because of the reload");
    assert.deepEqual(marks.filter((m) => !m.startsWith("a ")), [
      "b demote 0",
      "b promote 1",
      "b2 promote 1",
      "b demote 1",
    ]);
  } finally {
    await node.close();
  }
});

Deno.test("run and check-config refuse a script that is missing, naming the key and line", async () => {
  const node = new SoloNode();
  try {
    const demote = node.script("demote.sh", "a");
    node.configure([bashDriver("a", `${node.dir}/nope.sh`, demote)]);
    for (const command of ["check-config", "run"]) {
      const result = await runClustd([command, "--config", node.configPath]);
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.match(
        result.stderr,
        /n1\.yml:14:14: drivers\[0\]\.promote: ".*nope\.sh" cannot be used: no such file/,
        `${command}: ${result.stderr}`,
      );
    }
    assert.deepEqual(node.marks(), [], "nothing ran");
  } finally {
    await node.close();
  }
});
