/**
 * Test helpers for the external-driver SDK: one real `clustd run` process on
 * loopback with a driver token and external driver entries (started exactly
 * like `deno task clustd run`), and an in-process scripted daemon (a real
 * Mesh on a real socket) whose driver channels a test drives by hand. Kills
 * only the processes it started, by PID, and removes its temp dir.
 */

import { deriveDriverKey } from "../../src/config/derived_keys.ts";
import { HttpServer } from "../../src/http/server.ts";
import { Mesh } from "../../src/mesh/mesh.ts";
import type { SecureChannel } from "../../src/mesh/client.ts";
import {
  clustdArgv,
  freePort,
  randomKey,
  readLog,
  ROOT,
  runClustd,
  sleep,
  spawnLogged,
  waitAtMost,
  waitFor,
} from "../_process.ts";

export { randomKey, sleep, waitFor };

/** Longest wait for a process to exit after a signal. */
const EXIT_WAIT_MS = 10_000;

/** Settings of the one node. */
export interface NodeOptions {
  /** External driver ids listed under `drivers:`. */
  driverIds: string[];
  /** Peer ids listed in `cluster.peers` but never started. */
  ghostPeers?: string[];
  priority?: number;
  /** More `drivers:` entries, as YAML lines (already indented). */
  extraDrivers?: string;
}

/** One real clustd node with external drivers, in a temp directory. */
export class DriverNode {
  readonly dir = Deno.makeTempDirSync({ prefix: "clustd-sdk-" });
  readonly port = freePort();
  readonly secret = randomKey();
  readonly token = randomKey();
  readonly tokenPath = `${this.dir}/driver-token`;
  readonly configPath = `${this.dir}/n1.yml`;
  readonly logPath = `${this.dir}/n1.log`;
  #child: Deno.ChildProcess | null = null;

  constructor(options: NodeOptions) {
    Deno.writeTextFileSync(`${this.dir}/secret`, this.secret + "\n", {
      mode: 0o600,
    });
    Deno.writeTextFileSync(this.tokenPath, this.token + "\n", { mode: 0o600 });
    this.configure(options);
  }

  /** `ws://127.0.0.1:PORT` */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The cluster secret's bytes. */
  get secretBytes(): Uint8Array {
    return Uint8Array.fromBase64(this.secret);
  }

  /** The key of external driver `id` (base64), as `clustd derive-key driver ID` prints it. */
  async keyOf(id: string): Promise<string> {
    const key = await deriveDriverKey(Uint8Array.fromBase64(this.token), id);
    return key.toBase64();
  }

  /** Sends a signal (e.g. SIGHUP) to the running daemon. */
  signal(signal: Deno.Signal): void {
    this.#child?.kill(signal);
  }

  /** Rewrites the config (takes effect on the next start). */
  configure(options: NodeOptions): void {
    const peers = (options.ghostPeers ?? []).map((id) =>
      `    - { id: ${id}, url: "ws://127.0.0.1:${freePort()}" }`
    );
    const drivers = options.driverIds.map((id) =>
      `  - type: external\n    id: ${id}`
    );
    Deno.writeTextFileSync(
      this.configPath,
      `node:
  id: n1
  listen: 127.0.0.1:${this.port}
  advertise: ws://127.0.0.1:${this.port}
  priority: ${options.priority ?? 100}
cluster:
  secret_file: ${this.dir}/secret
  driver_token_file: ${this.tokenPath}
  peers:${peers.length === 0 ? " []" : "\n" + peers.join("\n")}
  heartbeat_ms: 100
  election_timeout_ms: 200
state_dir: ${this.dir}/state
drivers:
${drivers.join("\n")}
${options.extraDrivers ?? ""}`,
    );
  }

  /** Starts the daemon; stderr goes to `logPath`. */
  start(): void {
    if (this.#child !== null) throw new Error("node already runs");
    // The PID is the daemon's, so signals reach the daemon itself.
    this.#child = spawnLogged(
      clustdArgv(["run", "--config", this.configPath]),
      this.logPath,
      { cwd: ROOT, env: { NO_COLOR: "1" } },
    );
  }

  /** Signals the daemon and waits for it to exit. */
  async stop(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    try {
      child.kill(signal);
    } catch (_error: unknown) {
      // It already exited on its own (the test reads its log).
    }
    await waitAtMost(child.status, EXIT_WAIT_MS);
    this.#child = null;
  }

  /** Runs a CLI command against this node; returns its exit code and stderr. */
  async cli(...args: string[]): Promise<{ code: number; err: string }> {
    const result = await runClustd([...args, "--config", this.configPath]);
    return { code: result.code, err: result.stderr };
  }

  /** `GET /status` (null when the node does not answer). */
  async status(): Promise<{ role: string; term: number } | null> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/status`, {
        signal: AbortSignal.timeout(1000),
      });
      return await response.json() as { role: string; term: number };
    } catch (_error: unknown) {
      return null;
    }
  }

  /** The daemon's stderr so far. */
  log(): string {
    return readLog(this.logPath);
  }

  /** Kills the daemon if it runs and removes the temp dir. */
  async close(): Promise<void> {
    await this.stop("SIGKILL");
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** An in-process daemon stand-in: a real Mesh serving driver channels on loopback. */
export class ScriptedDaemon {
  readonly token = randomKey();
  readonly channels: SecureChannel[] = [];
  readonly received: unknown[] = [];
  readonly #mesh: Mesh;
  readonly #server: HttpServer;
  readonly #port: number;
  #onHello: (channel: SecureChannel, message: unknown) => void;

  /** `onHello` answers each new channel's first message. */
  constructor(onHello: (channel: SecureChannel, message: unknown) => void) {
    this.#onHello = onHello;
    this.#mesh = new Mesh({
      selfId: "n1",
      peers: [],
      secret: Uint8Array.fromBase64(randomKey()),
      // Any driver id is served with the one token (no per-id keys here).
      driverKey: () => Uint8Array.fromBase64(this.token),
      clusterDescription: { test: true },
      heartbeatMs: 100,
      peerTimeoutMs: 1000,
    });
    this.#mesh.onChannel("driver", (channel) => {
      this.channels.push(channel);
      let first = true;
      channel.onMessage((message) => {
        this.received.push(message);
        if (first) this.#onHello(channel, message);
        first = false;
      });
    });
    this.#server = new HttpServer({
      hostname: "127.0.0.1",
      port: 0,
      handle: (request, client) =>
        this.#mesh.handleRequest(request, client) ??
          new Response("not found\n", { status: 404 }),
    });
    this.#port = this.#server.listen().port;
    this.#mesh.start();
  }

  /** `ws://127.0.0.1:PORT` */
  get url(): string {
    return `ws://127.0.0.1:${this.#port}`;
  }

  /** Replaces the hello handler for later channels. */
  set onHello(handler: (channel: SecureChannel, message: unknown) => void) {
    this.#onHello = handler;
  }

  /** Acks received so far, as `event/term/ok`. */
  acks(): string[] {
    return this.received.flatMap((m) => {
      const r = m as Record<string, unknown>;
      return r["type"] === "ack"
        ? [`${r["event"]}/${r["term"]}/${r["ok"]}`]
        : [];
    });
  }

  /** Closes every channel, the mesh and the server. */
  async close(): Promise<void> {
    for (const channel of this.channels) channel.close("test over");
    await Promise.all(this.channels.map((c) => c.closed));
    await this.#mesh.close();
    await this.#server.close();
  }
}

/** A wire role event as the daemon sends it. */
export function wireEvent(
  event: "promote" | "demote",
  term: number,
): Record<string, unknown> {
  return {
    type: "event",
    event,
    reason: event === "promote" ? "elected" : "quorum_lost",
    role: event === "promote" ? "master" : "backup",
    term,
    node_id: "n1",
    master_id: event === "promote" ? "n1" : null,
  };
}
