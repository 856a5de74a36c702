/**
 * Client-visible outage through a VIP after kill -9 of the master: clustd's
 * vip driver against keepalived's `virtual_ipaddress`, same hosts, same
 * interval (clustd heartbeat = keepalived advert_int), same run. Three node
 * namespaces and a client namespace on one bridge; each node runs a tiny
 * HTTP server; the client sends 20 requests a second to the VIP. A round
 * kills the VIP holder's agent and web server at once and removes the VIP
 * from it (the machine is gone, as after a crash and reboot), then measures
 * from the client's last answer before the kill to its first answer from
 * another node. The killed node is then restarted and the cluster settles.
 *
 * Run: `deno run -A tests/bench/vip_bench.ts [--runs N] [--interval MS]` (root).
 */
import { killQuietly, sleep, waitFor } from "../_process.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import {
  createTopology,
  type Host,
  type Topology,
  VIP_ADDRESS,
} from "../netns/_topology.ts";
import {
  firstAnswer,
  holdsAddress,
  macOf,
  neighbourOf,
  outageMs,
  startClient,
  startWebServer,
} from "../netns/_vip_client.ts";
import { percentile } from "./failover_bench.ts";
import { KeepalivedCluster } from "./_keepalived.ts";

const VIP_CIDR = `${VIP_ADDRESS}/24`;
/** Client requests after its first answer and before the kill. */
const BEFORE_KILL_MS = 500;
/** Longest a round waits for another node to answer through the VIP. */
const ROUND_MAX_MS = 8000;
const FAILED_ROUNDS_MAX = 3;

/** What a round needs from either tool's cluster. */
interface VipCluster {
  readonly hosts: readonly string[];
  readonly dir: string;
  start(host: string): void;
  signal(host: string, signal: Deno.Signal): Promise<number>;
  waitReady?(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Outage samples of one tool at one interval. */
export interface VipMeasurement {
  tool: string;
  setting: string;
  samplesMs: number[];
  failures: string[];
}

async function holders(topology: Topology, hosts: Host[]): Promise<string[]> {
  const found: string[] = [];
  for (const host of hosts) {
    if (await holdsAddress(topology, host, VIP_CIDR)) found.push(host.name);
  }
  return found;
}

async function round(
  topology: Topology,
  cluster: VipCluster,
  webs: Map<string, Deno.ChildProcess>,
  settleMs: number,
): Promise<number> {
  const nodes = topology.hosts.slice(0, 3);
  const client = topology.hosts[3]!;
  let one: string[] = [];
  await sleep(settleMs);
  const settled = await waitFor(async () => {
    one = await holders(topology, nodes);
    return one.length === 1;
  }, ROUND_MAX_MS);
  const master = one[0];
  if (!settled || master === undefined) {
    throw new Error(`VIP held by [${one.join(", ")}]`);
  }
  const loop = startClient(
    topology,
    client,
    VIP_ADDRESS,
    cluster.dir,
    BEFORE_KILL_MS + ROUND_MAX_MS,
  );
  if (!await firstAnswer(loop, ROUND_MAX_MS)) {
    killQuietly(loop.child.pid, "SIGKILL");
    await loop.done;
    throw new Error("the client never reached the VIP before the kill");
  }
  await sleep(BEFORE_KILL_MS);
  const killMs = Date.now();
  killQuietly(webs.get(master)!.pid, "SIGKILL");
  await cluster.signal(master, "SIGKILL");
  // The machine is gone: its VIP with it (keepalived's harness does this too).
  const host = nodes.find((h) => h.name === master)!;
  await topology.exec(host, ["ip", "addr", "del", VIP_CIDR, "dev", "eth0"]);
  const samples = await loop.done;
  const outage = outageMs(samples, killMs, master);
  if (outage === null) {
    // Say why, for the report: who holds the VIP now, where the client sends.
    const now = await holders(topology, nodes);
    const neighbour = await neighbourOf(client, VIP_ADDRESS);
    const macs: string[] = [];
    for (const h of nodes) macs.push(`${h.name}=${await macOf(topology, h)}`);
    const answered = samples.filter((s) => s.atMs > killMs && s.who !== "fail");
    webs.set(master, startWebServer(topology, host, cluster.dir));
    cluster.start(master);
    throw new Error(
      `no other node answered after killing ${master}: VIP on [${now}], client sends to ${neighbour} (${macs}), ${answered.length} answers after the kill from [${[
        ...new Set(answered.map((a) => a.who)),
      ]}]`,
    );
  }
  webs.set(master, startWebServer(topology, host, cluster.dir));
  cluster.start(master);
  return outage;
}

async function measure(
  tool: "clustd" | "keepalived",
  intervalMs: number,
  runs: number,
): Promise<VipMeasurement> {
  const topology = await createTopology(4);
  let cluster: VipCluster | null = null;
  const webs = new Map<string, Deno.ChildProcess>();
  const result: VipMeasurement = {
    tool,
    setting: tool === "clustd"
      ? `heartbeat ${intervalMs} ms, E ${2 * intervalMs} ms`
      : `advert_int ${intervalMs / 1000} s`,
    samplesMs: [],
    failures: [],
  };
  try {
    cluster = tool === "clustd"
      ? ClustdNetnsCluster.create(topology, {
        heartbeatMs: intervalMs,
        electionTimeoutMs: 2 * intervalMs,
        members: 3,
        extraDrivers: `  - type: vip
    address: ${VIP_CIDR}
    interface: eth0
    announce_count: 3
    announce_interval_ms: 1000
    reconcile_ms: 1000
`,
      })
      : KeepalivedCluster.create(topology, {
        advertIntMs: intervalMs,
        members: 3,
      });
    for (const host of cluster.hosts) {
      const node = topology.hosts.find((h) => h.name === host)!;
      webs.set(host, startWebServer(topology, node, cluster.dir));
      cluster.start(host);
    }
    await cluster.waitReady?.(20_000);
    // A restarted clustd node votes only E after start; keepalived needs a
    // few adverts. Either way, settle well past both.
    const settleMs = 4 * intervalMs + 1500;
    let failedInARow = 0;
    for (let run = 0; run < runs && failedInARow < FAILED_ROUNDS_MAX; run++) {
      try {
        result.samplesMs.push(await round(topology, cluster, webs, settleMs));
        failedInARow = 0;
      } catch (error: unknown) {
        failedInARow++;
        result.failures.push(
          error instanceof Error ? error.message : String(error),
        );
      }
    }
  } finally {
    for (const web of webs.values()) killQuietly(web.pid, "SIGKILL");
    await cluster?.close();
    await topology.destroy();
  }
  return result;
}

/** Markdown rows: outage through the VIP per tool. */
export async function vipBench(
  options: {
    runs: number;
    intervalMs?: number;
    tools?: readonly ("clustd" | "keepalived")[];
  },
): Promise<string[]> {
  const intervalMs = options.intervalMs ?? 100;
  const tools = options.tools ?? ["keepalived", "clustd"];
  const results: VipMeasurement[] = [];
  for (const tool of tools) {
    results.push(await measure(tool, intervalMs, options.runs));
  }
  const rows = [
    "| tool | setting | runs | min | median | p90 | max | ratio vs keepalived |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const median = (r: VipMeasurement) =>
    percentile([...r.samplesMs].sort((a, b) => a - b), 50);
  for (const r of results) {
    const sorted = [...r.samplesMs].sort((a, b) => a - b);
    const cells = [0, 50, 90, 100].map((p) =>
      sorted.length === 0 ? "–" : String(Math.round(percentile(sorted, p)))
    );
    const keepalived = results.find((k) => k.tool === "keepalived");
    const ratio = r.tool === "clustd" && keepalived !== undefined
      ? (median(r) / median(keepalived)).toFixed(2)
      : "–";
    const failed = r.failures.length === 0
      ? ""
      : ` (${r.failures.length} failed)`;
    rows.push(
      `| ${r.tool} | ${r.setting} | ${sorted.length}${failed} | ${
        cells.join(" | ")
      } | ${ratio} |`,
    );
  }
  for (const r of results) {
    for (const failure of r.failures) {
      rows.push(`<!-- ${r.tool}: ${failure} -->`);
    }
  }
  return rows;
}

if (import.meta.main) {
  const at = (flag: string) => Deno.args.indexOf(flag);
  const runs = at("--runs") >= 0 ? Number(Deno.args[at("--runs") + 1]) : 10;
  const intervalMs = at("--interval") >= 0
    ? Number(Deno.args[at("--interval") + 1])
    : 100;
  const only = at("--tool") >= 0
    ? [Deno.args[at("--tool") + 1] as "clustd" | "keepalived"]
    : undefined;
  console.log(
    (await vipBench({
      runs,
      intervalMs,
      ...(only === undefined ? {} : { tools: only }),
    })).join("\n"),
  );
}
