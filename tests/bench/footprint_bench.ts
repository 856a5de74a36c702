/**
 * Idle footprint and cold start of clustd clusters on loopback: N real
 * `clustd run` processes at the default timings (heartbeat 1500 ms), time
 * from start to the first promote hook, then RSS (VmRSS, split into private
 * anonymous memory and file-backed pages, mostly the Deno executable's own
 * code and snapshot, shared by every Deno process and reclaimable) and CPU
 * (% of one core, utime+stime from /proc over a window) of every process
 * while idle.
 */

import { sleep } from "../_process.ts";
import { TestCluster } from "../e2e/_cluster.ts";

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

if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [3, 5, 25];
  console.log((await footprintBench(sizes)).join("\n"));
}
