/**
 * The moving parts of the VIP tests and benchmark around a cluster in
 * network namespaces: a tiny HTTP server per node namespace that answers
 * with its host name, a client namespace sending 20 requests a second to the
 * VIP (each line `<ms epoch> <host|fail>` on stdout), and readers for the
 * client's neighbour entry and a host's MAC address.
 */

import { runCommand, waitFor } from "../_process.ts";
import type { Host, Topology } from "./_topology.ts";

/** Port of the per-node HTTP server. */
export const WEB_PORT = 8080;

/** The client's request interval: 20 per second. */
export const REQUEST_INTERVAL_MS = 50;

/** Each request gives up after this long (a lost SYN is an outage sample). */
const REQUEST_TIMEOUT_MS = 150;

const SERVER = `
const [name, port] = Deno.args;
Deno.serve({ hostname: "0.0.0.0", port: Number(port), onListen: () => {} },
  () => new Response(name, { headers: { connection: "close" } }));
`;

const CLIENT = `
const [url, intervalMs, timeoutMs, durationMs] = Deno.args.map((a, i) => i === 0 ? a : Number(a));
const endMs = Date.now() + durationMs;
while (Date.now() < endMs) {
  const startedMs = Date.now();
  let who = "fail";
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    who = (await response.text()).trim() || "fail";
  } catch (_error) {
    who = "fail";
  }
  console.log(startedMs + " " + who);
  await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - startedMs))));
}
`;

/** One client sample. */
export interface Sample {
  atMs: number;
  /** Host name that answered, or "fail". */
  who: string;
}

function scriptFile(dir: string, name: string, text: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, text);
  return path;
}

/** Starts the HTTP server in `host`'s namespace. */
export function startWebServer(
  topology: Topology,
  host: Host,
  dir: string,
): Deno.ChildProcess {
  const script = scriptFile(dir, "web.ts", SERVER);
  return topology.spawn(host, [
    Deno.execPath(),
    "run",
    "-q",
    "--allow-net",
    script,
    host.name,
    String(WEB_PORT),
  ]);
}

/** A running request loop; `samples` grows as answers arrive. */
export interface ClientLoop {
  child: Deno.ChildProcess;
  samples: Sample[];
  /** Resolves when the loop ended and its output is read. */
  done: Promise<Sample[]>;
}

/** Starts the request loop in `client`'s namespace for `durationMs`. */
export function startClient(
  topology: Topology,
  client: Host,
  vip: string,
  dir: string,
  durationMs: number,
): ClientLoop {
  const script = scriptFile(dir, "client.ts", CLIENT);
  const child = topology.spawn(client, [
    Deno.execPath(),
    "run",
    "-q",
    "--allow-net",
    script,
    `http://${vip}:${WEB_PORT}/`,
    String(REQUEST_INTERVAL_MS),
    String(REQUEST_TIMEOUT_MS),
    String(durationMs),
  ], { stdout: "piped" });
  const samples: Sample[] = [];
  const done = (async () => {
    let rest = "";
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      rest += text;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const [at, who] = line.split(" ");
        if (who !== undefined) samples.push({ atMs: Number(at), who });
      }
    }
    return samples;
  })();
  return { child, samples, done };
}

/** Waits until the loop got an answer from anyone; false after `timeoutMs`. */
export function firstAnswer(
  loop: ClientLoop,
  timeoutMs: number,
): Promise<boolean> {
  return waitFor(() => loop.samples.some((s) => s.who !== "fail"), timeoutMs);
}

/** MAC address of `host`'s eth0. */
export async function macOf(topology: Topology, host: Host): Promise<string> {
  const out = await topology.exec(host, ["ip", "-o", "link", "show", "eth0"]);
  return /link\/ether ([0-9a-f:]{17})/.exec(out.stdout)?.[1] ?? "";
}

/** The lladdr of `address` in `host`'s neighbour table, or "" when none. */
export async function neighbourOf(
  host: Host,
  address: string,
): Promise<string> {
  const out = await runCommand([
    "ip",
    "-n",
    host.ns,
    "neigh",
    "show",
    address,
  ]);
  return /lladdr ([0-9a-f:]{17})/.exec(out.stdout)?.[1] ?? "";
}

/** Whether `host`'s eth0 holds `address` (as `a.b.c.d/len`). */
export async function holdsAddress(
  topology: Topology,
  host: Host,
  address: string,
): Promise<boolean> {
  const out = await topology.exec(host, [
    "ip",
    "-o",
    "-4",
    "addr",
    "show",
    "dev",
    "eth0",
  ]);
  return out.stdout.split(/\s+/).includes(address);
}

/**
 * The client-visible outage around `killMs`: from the last answer before
 * the kill to the first answer by another host after it.
 */
export function outageMs(
  samples: Sample[],
  killMs: number,
  oldMaster: string,
): number | null {
  const before = samples.filter((s) => s.atMs <= killMs && s.who !== "fail");
  const after = samples.filter((s) =>
    s.atMs > killMs && s.who !== "fail" && s.who !== oldMaster
  );
  const last = before[before.length - 1];
  const first = after[0];
  if (last === undefined || first === undefined) return null;
  return first.atMs - last.atMs;
}
