/**
 * Helpers for the real-client probe tests: tiny app servers that answer with
 * a node id, a Debian HAProxy process with a generated config, a sampler that
 * records every response through it, master intervals and the legality check
 * of responses against them, and `promtool check metrics`.
 * Kills only the HAProxy it started, by PID; never touches the cluster.
 */

import type { HookLine } from "./_cluster.ts";

const HAPROXY = "/usr/sbin/haproxy";
const PROMTOOL = "/usr/bin/promtool";
/** How long HAProxy may take to accept connections after its start. */
const HAPROXY_START_MS = 5000;
/** Hard cap on samples one `sample()` call records, whatever its duration. */
const SAMPLES_MAX = 5000;
/** Timeout of one sampled request through HAProxy. */
const SAMPLE_TIMEOUT_MS = 1000;

/** Fails with the Debian package to install when a tool is missing. */
export function requireTool(path: string, debianPackage: string): void {
  try {
    Deno.statSync(path);
  } catch (_error: unknown) {
    throw new Error(
      `"${path}" is missing: install Debian's "${debianPackage}" package (apt-get install ${debianPackage})`,
    );
  }
}

/** Sleeps `ms` milliseconds. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** An app server in the test process that answers every request with its id. */
export interface AppServer {
  id: string;
  port: number;
  server: Deno.HttpServer<Deno.NetAddr>;
}

/** Starts one app server per id on 127.0.0.1 (random ports). */
export function startApps(ids: string[]): AppServer[] {
  return ids.map((id) => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(id, { headers: { "content-type": "text/plain" } }),
    );
    return { id, port: server.addr.port, server };
  });
}

/** Shuts every app server down (errors of one do not stop the others). */
export async function stopApps(apps: AppServer[]): Promise<void> {
  await Promise.allSettled(apps.map((app) => app.server.shutdown()));
}

/** One backend server: the app's port, health-checked on the clustd port. */
export interface Backend {
  id: string;
  appPort: number;
  clustdPort: number;
}

/** HAProxy check timing (ms) and counters. */
export interface CheckTiming {
  interMs: number;
  rise: number;
  fall: number;
}

/**
 * The config an operator would write (DESIGN §6): one backend whose servers
 * are checked with `option httpchk GET /master` on the clustd port, so only
 * the master's app receives traffic.
 */
export function haproxyConfig(
  frontendPort: number,
  backends: Backend[],
  timing: CheckTiming,
): string {
  const servers = backends.map((b) =>
    `    server ${b.id} 127.0.0.1:${b.appPort} check port ${b.clustdPort} ` +
    `inter ${timing.interMs} fastinter ${timing.interMs} ` +
    `downinter ${timing.interMs} fall ${timing.fall} rise ${timing.rise}`
  );
  return [
    "global",
    "    maxconn 256",
    "defaults",
    "    mode http",
    "    timeout connect 200ms",
    "    timeout client 2s",
    "    timeout server 2s",
    "    timeout check 200ms",
    "frontend app",
    `    bind 127.0.0.1:${frontendPort}`,
    "    default_backend masters",
    "backend masters",
    "    option httpchk GET /master",
    "    http-check expect status 200",
    // One request, one routing decision: a kept-alive server connection
    // must not carry a request to a server HAProxy has marked down.
    "    option http-server-close",
    ...servers,
    "",
  ].join("\n");
}

/** A running HAProxy started by a test. */
export class Haproxy {
  readonly port: number;
  readonly logPath: string;
  #child: Deno.ChildProcess | null;

  private constructor(port: number, logPath: string, child: Deno.ChildProcess) {
    this.port = port;
    this.logPath = logPath;
    this.#child = child;
  }

  /** Writes `config` into `dir` and starts HAProxy in the foreground (`-db`). */
  static async start(
    dir: string,
    port: number,
    config: string,
  ): Promise<Haproxy> {
    requireTool(HAPROXY, "haproxy");
    const configPath = `${dir}/haproxy.cfg`;
    const logPath = `${dir}/haproxy.log`;
    Deno.writeTextFileSync(configPath, config);
    // `exec` keeps the PID: kill() reaches HAProxy itself.
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", `exec ${HAPROXY} -f '${configPath}' -db 2>>'${logPath}'`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const haproxy = new Haproxy(port, logPath, child);
    const deadline = Date.now() + HAPROXY_START_MS;
    while (Date.now() < deadline) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return haproxy;
      } catch (_error: unknown) {
        // Not listening yet: HAProxy is still parsing its config.
        await sleep(20);
      }
    }
    await haproxy.stop();
    throw new Error(
      `HAProxy did not listen on 127.0.0.1:${port} within ${HAPROXY_START_MS} ms:\n${
        Deno.readTextFileSync(logPath)
      }`,
    );
  }

  /** Kills HAProxy by PID and reaps it. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch (_error: unknown) {
      // It exited on its own (a config error); its status says so.
    }
    await Promise.race([child.status, sleep(5000)]);
  }

  /** HAProxy's stderr so far. */
  log(): string {
    try {
      return Deno.readTextFileSync(this.logPath);
    } catch (_error: unknown) {
      return "";
    }
  }
}

/** One request through HAProxy: when it left, when it came back, who answered. */
export interface Sampled {
  sentMs: number;
  receivedMs: number;
  status: number;
  /** The app's node id on 200, else the body's first line or the error. */
  body: string;
}

/** Options of one sampling run. */
export interface SampleOptions {
  /** Pause between the end of one request and the next. */
  everyMs: number;
  /** Stop after this long at the latest. */
  forMs: number;
  /** Stop earlier once this returns true (checked after each sample). */
  until?: (samples: Sampled[]) => boolean;
}

/** Sends GET requests to `url` one after another; returns every response. */
export async function sample(
  url: string,
  options: SampleOptions,
): Promise<Sampled[]> {
  const samples: Sampled[] = [];
  const deadline = Date.now() + options.forMs;
  while (Date.now() < deadline && samples.length < SAMPLES_MAX) {
    const sentMs = Date.now();
    let status = 0;
    let body = "";
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS),
      });
      status = response.status;
      body = (await response.text()).trim().split("\n")[0] ?? "";
    } catch (error: unknown) {
      body = error instanceof Error ? error.message : String(error);
    }
    samples.push({ sentMs, receivedMs: Date.now(), status, body });
    if (options.until?.(samples) === true) break;
    await sleep(options.everyMs);
  }
  return samples;
}

/** A stretch of wall-clock time during which `node` was master. */
export interface MasterInterval {
  node: string;
  term: number;
  fromMs: number;
  toMs: number;
}

/**
 * Master intervals from the hook log: each promote line opens one, the
 * node's next demote line or its kill time (`kills`) closes it. A promote
 * hook runs a little after the role changed, so when the node's own
 * `master_since` for that term is known (`starts`, key `node/term`) it
 * replaces the hook's time as the start.
 */
export function masterIntervals(
  hooks: HookLine[],
  kills: Map<string, number>,
  starts: Map<string, number>,
): MasterInterval[] {
  const intervals: MasterInterval[] = [];
  const open = new Map<string, MasterInterval>();
  for (const line of [...hooks].sort((a, b) => a.atMs - b.atMs)) {
    const current = open.get(line.node);
    if (current !== undefined) {
      current.toMs = line.atMs;
      open.delete(line.node);
    }
    if (line.event !== "promote") continue;
    const since = starts.get(`${line.node}/${line.term}`);
    const interval = {
      node: line.node,
      term: line.term,
      fromMs: Math.min(since ?? line.atMs, line.atMs),
      toMs: Infinity,
    };
    intervals.push(interval);
    open.set(line.node, interval);
  }
  for (const [node, interval] of open) {
    const kill = kills.get(node);
    if (kill !== undefined && kill >= interval.fromMs) interval.toMs = kill;
  }
  return intervals;
}

/**
 * Responses that reached a node while it was not master. HAProxy picked the
 * server at some instant c with sentMs <= c <= receivedMs, from its latest
 * health check; that check is at most `slackMs` old (one check interval times
 * `fall`, plus the check's own time). So a response from X is legal only if
 * X was master at some time in [sentMs - slackMs, receivedMs], that is, if
 * some interval of X overlaps that window. Non-200 answers (503 while no
 * server is up) name no node and are always legal.
 */
export function illegalResponses(
  samples: Sampled[],
  intervals: MasterInterval[],
  slackMs: number,
): Sampled[] {
  return samples.filter((s) => {
    if (s.status !== 200) return false;
    const from = s.sentMs - slackMs;
    return !intervals.some((i) =>
      i.node === s.body && i.fromMs <= s.receivedMs && from <= i.toMs
    );
  });
}

/** Result of `promtool check metrics`: exit code and its combined output. */
export interface PromtoolResult {
  code: number;
  output: string;
}

/** Runs Debian's `promtool check metrics` (the official parser and linter) on `text`. */
export async function promtoolCheck(text: string): Promise<PromtoolResult> {
  requireTool(PROMTOOL, "prometheus");
  const child = new Deno.Command(PROMTOOL, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const result = await child.output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/** What a planned handover looked like through HAProxy. */
export interface HandoverFigures {
  /** Requests the old master's app answered after its demote began. */
  toDemoted: number;
  /** Requests that found no server (HAProxy's 503). */
  unavailable: number;
  /** From the first 503 sent to the last 503 received (0 without any). */
  unavailableMs: number;
  /** First 200 from another node, after `startMs`. */
  newMasterAtMs: number | null;
}

/** Counts, in `samples`, the requests that reached `old` after `demoteAtMs` and the 503s. */
export function handoverFigures(
  samples: Sampled[],
  old: string,
  demoteAtMs: number,
): HandoverFigures {
  const toDemoted = samples.filter((s) =>
    s.status === 200 && s.body === old && s.receivedMs > demoteAtMs
  );
  const unavailable = samples.filter((s) => s.status !== 200);
  const first = unavailable[0];
  const last = unavailable.at(-1);
  const fresh = samples.find((s) => s.status === 200 && s.body !== old);
  return {
    toDemoted: toDemoted.length,
    unavailable: unavailable.length,
    unavailableMs: first === undefined || last === undefined
      ? 0
      : last.receivedMs - first.sentMs,
    newMasterAtMs: fresh?.receivedMs ?? null,
  };
}

/** Wall-clock time of the last `election: demote` line in a clustd log at or after `fromMs`. */
export function demoteLoggedAt(log: string, fromMs: number): number | null {
  let at: number | null = null;
  for (const line of log.split("\n")) {
    if (!/ election: demote /.test(line)) continue;
    const ms = Date.parse(line.split(" ")[0] ?? "");
    if (Number.isFinite(ms) && ms >= fromMs) at = ms;
  }
  return at;
}
