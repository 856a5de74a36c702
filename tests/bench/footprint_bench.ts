/**
 * Idle footprint and cold start of clustd clusters on loopback: N real
 * `clustd run` processes at the default timings (heartbeat 1500 ms), time
 * from start to the first promote hook, then RSS (VmRSS, split into private
 * anonymous memory and file-backed pages, mostly the Deno executable's own
 * code and snapshot, shared by every Deno process and reclaimable) and CPU
 * (% of one core, utime+stime from /proc over a window) of every process
 * while idle.
 */

import { killQuietly, sleep } from "../_process.ts";
import { TestCluster } from "../e2e/_cluster.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { createTopology } from "../netns/_topology.ts";
import { FLOATING_IP, TOKEN } from "../drivers/_cloud_fakes.ts";

const TICKS_PER_SECOND = 100;

interface ProcStat {
  cpuTicks: number;
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? "0") * 1024;
    return {
      cpuTicks,
      rssBytes: kb("VmRSS"),
      anonBytes: kb("RssAnon"),
      fileBytes: kb("RssFile"),
    };
  } catch (_error: unknown) {
    return null;
  }
}

/** One measured cluster size. */
export interface FootprintResult {
  nodes: number;
  coldStartMs: number;
  rssMbMedian: number;
  rssMbMax: number;
  anonMbMedian: number;
  fileMbMedian: number;
  cpuPercentMedian: number;
  cpuPercentMax: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

/** Starts `size` nodes, measures cold start, then idles for `windowMs` and samples. */
export async function measureFootprint(
  size: number,
  options: { heartbeatMs?: number; windowMs?: number } = {},
): Promise<FootprintResult> {
  const heartbeatMs = options.heartbeatMs ?? 1500;
  const cluster = TestCluster.create({
    heartbeatMs,
    electionTimeoutMs: 2 * heartbeatMs,
    nodes: Array.from(
      { length: size },
      (_, i) => ({ id: `n${i + 1}`, priority: 200 - i }),
    ),
  });
  try {
    const startedAt = Date.now();
    // Default logging (the e2e harness turns election debug lines on).
    for (const id of cluster.nodes.keys()) cluster.start(id, { DEBUG: "" });
    const promotes = await cluster.waitForPromotes(1, 60_000);
    if (promotes.length === 0) {
      throw new Error(`no master among ${size} nodes within 60 s`);
    }
    const coldStartMs = promotes[0]!.atMs - startedAt;
    // Let connections and Workers settle before sampling idle behaviour.
    await sleep(Math.max(2000, 2 * heartbeatMs));
    const pids = [...cluster.nodes.values()].map((n) => n.child?.pid ?? 0);
    const before = pids.map(procStat);
    const windowMs = options.windowMs ?? 10_000;
    await sleep(windowMs);
    const after = pids.map(procStat);
    const cpu: number[] = [];
    const rss: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    for (let i = 0; i < pids.length; i++) {
      const a = before[i];
      const b = after[i];
      if (a === null || b === null || a === undefined || b === undefined) {
        continue;
      }
      cpu.push(
        ((b.cpuTicks - a.cpuTicks) / TICKS_PER_SECOND) / (windowMs / 1000) *
          100,
      );
      rss.push(b.rssBytes / (1024 * 1024));
      anon.push(b.anonBytes / (1024 * 1024));
      file.push(b.fileBytes / (1024 * 1024));
    }
    return {
      nodes: size,
      coldStartMs,
      rssMbMedian: median(rss),
      rssMbMax: Math.max(...rss),
      anonMbMedian: median(anon),
      fileMbMedian: median(file),
      cpuPercentMedian: median(cpu),
      cpuPercentMax: Math.max(...cpu),
    };
  } finally {
    await cluster.close();
  }
}

/** Median and max RSS (MB) of `pids`, sampled once. */
function rssOf(pids: number[]): { medianMb: number; maxMb: number } {
  const rss = pids.map(procStat).filter((s) => s !== null).map((s) =>
    s.rssBytes / (1024 * 1024)
  );
  return { medianMb: median(rss), maxMb: Math.max(...rss) };
}

/**
 * Idle RSS of 3 nodes in network namespaces, each with a vip, a floating_ip
 * (against a fake DigitalOcean served in a fourth namespace), a bash driver
 * and two checks, at the default timings (issue 12: at most 70 MB median).
 */
export async function measureResourceFootprint(
  windowMs = 10_000,
): Promise<{ medianMb: number; maxMb: number }> {
  const topology = await createTopology(4);
  const cloudHost = topology.hosts[3]!;
  let cluster: ClustdNetnsCluster | null = null;
  let cloud: Deno.ChildProcess | null = null;
  try {
    const dir = Deno.makeTempDirSync({ prefix: "clustd-footprint-" });
    const script = new URL("./_fake_cloud_main.ts", import.meta.url).pathname;
    cloud = topology.spawn(cloudHost, [
      Deno.execPath(),
      ...["run", "-q", "--allow-net", "--allow-read", script],
      ...["digitalocean", cloudHost.address, "1"],
    ], { stdout: "piped" });
    const reader = cloud.stdout.getReader();
    const apiUrl = new TextDecoder().decode((await reader.read()).value).trim();
    reader.releaseLock();
    Deno.writeTextFileSync(`${dir}/token`, TOKEN, { mode: 0o600 });
    Deno.writeTextFileSync(`${dir}/check.sh`, "#!/bin/sh\nexit 0\n", {
      mode: 0o755,
    });
    cluster = ClustdNetnsCluster.create(topology, {
      heartbeatMs: 1500,
      electionTimeoutMs: 3000,
      members: 3,
      extraDrivers:
        `  - { type: vip, address: 198.18.0.100/24, interface: eth0 }
  - type: floating_ip
    provider: digitalocean
    ip: ${FLOATING_IP}
    token_file: ${dir}/token
    machine_id: 1
    api_url: ${apiUrl}
`,
      checks: `  - { command: ${dir}/check.sh }
  - { command: /bin/true }
`,
    });
    cluster.startAll();
    await cluster.waitReady(60_000);
    await cluster.waitForMaster(60_000);
    await sleep(5000);
    const pids = cluster.hosts.map((h) => cluster!.pid(h) ?? 0);
    await sleep(windowMs);
    Deno.removeSync(dir, { recursive: true });
    return rssOf(pids);
  } finally {
    if (cloud !== null) killQuietly(cloud.pid, "SIGKILL");
    await cluster?.close();
    await topology.destroy();
  }
}

/** Markdown rows for sizes 3, 5 and 25 (or the given ones). */
export async function footprintBench(sizes = [3, 5, 25]): Promise<string[]> {
  const rows = [
    "| nodes | cold start to first promote (ms) | RSS per node median / max (MB) | of which private / file-backed, median (MB) | idle CPU per node median / max (% of a core) |",
    "|---:|---:|---:|---:|---:|",
  ];
  for (const size of sizes) {
    const r = await measureFootprint(size);
    rows.push(
      `| ${r.nodes} | ${r.coldStartMs} | ${r.rssMbMedian.toFixed(1)} / ${
        r.rssMbMax.toFixed(1)
      } | ${r.anonMbMedian.toFixed(1)} / ${r.fileMbMedian.toFixed(1)} | ${
        r.cpuPercentMedian.toFixed(2)
      } / ${r.cpuPercentMax.toFixed(2)} |`,
    );
  }
  return rows;
}

/** The row of the resource-driver node (vip, floating_ip, bash, two checks). */
export async function resourceFootprintRow(): Promise<string> {
  const { medianMb, maxMb } = await measureResourceFootprint();
  return `| 3 (vip + floating_ip + bash + 2 checks, netns) | – | ${
    medianMb.toFixed(1)
  } / ${maxMb.toFixed(1)} | – | – |`;
}

if (import.meta.main && Deno.args[0] === "--resources") {
  console.log(await resourceFootprintRow());
} else if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [3, 5, 25];
  console.log((await footprintBench(sizes)).join("\n"));
}
