/**
 * Idle cost against keepalived, side by side in one run: three hosts in
 * network namespaces run keepalived (VRRPv3, unicast) and clustd (`deno run`
 * with the daemon's own flags, one bash driver, default logging) at the same
 * time, at the same interval, with nothing failing. Per node it samples, over
 * several windows: CPU in ms per second (the per-thread run time from
 * /proc/<pid>/task/<tid>/schedstat, in ns; utime+stime from /proc/<pid>/stat
 * counts 10 ms ticks, too coarse for sub-millisecond rates, and is shown
 * over the whole window as a cross-check), context switches per second
 * (voluntary + involuntary, every thread) and, for clustd, RSS. A node is
 * its process and every descendant (keepalived's VRRP child).
 *
 * Run: `deno run -A tests/bench/idle_bench.ts [--samples N] [--window-ms MS]`
 * (root). Bounded: each interval starts, settles, samples and tears down.
 */
import { sleep } from "../_process.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { createTopology } from "../netns/_topology.ts";
import { KeepalivedCluster } from "./_keepalived.ts";

const TICKS_PER_SECOND = 100;
const MASTER_WAIT_MS = 30_000;
const SETTLE_MS = 3000;
/** Default intervals: keepalived advert_int = clustd heartbeat (ms). */
export const IDLE_INTERVALS_MS = [100, 1000, 1500] as const;

/** Counters of one process tree at one instant. */
interface TreeSample {
  runNs: number;
  ticks: number;
  switches: number;
  rssBytes: number;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (_error: unknown) {
    // The process or thread ended between listing and reading.
    return "";
  }
}

function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** PIDs of `root` and all its descendants. */
function tree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const ppid = Number(
      statFields(readOr(`/proc/${entry.name}/stat`))[1] ?? NaN,
    );
    const list = parents.get(ppid) ?? [];
    list.push(Number(entry.name));
    parents.set(ppid, list);
  }
  const out = [root];
  for (let i = 0; i < out.length && i < 1000; i++) {
    out.push(...(parents.get(out[i]!) ?? []));
  }
  return out;
}

function sampleTree(root: number): TreeSample {
  const sample = { runNs: 0, ticks: 0, switches: 0, rssBytes: 0 };
  for (const pid of tree(root)) {
    const fields = statFields(readOr(`/proc/${pid}/stat`));
    sample.ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const status = readOr(`/proc/${pid}/status`);
    sample.rssBytes += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    let tasks: Deno.DirEntry[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
    } catch (_error: unknown) {
      continue; // exited
    }
    for (const task of tasks) {
      const dir = `/proc/${pid}/task/${task.name}`;
      sample.runNs += Number(readOr(`${dir}/schedstat`).split(" ")[0] ?? 0);
      const text = readOr(`${dir}/status`);
      for (const m of text.matchAll(/ctxt_switches:\s+(\d+)/g)) {
        sample.switches += Number(m[1]);
      }
    }
  }
  return sample;
}

/** Idle figures of one tool at one interval, per node. */
export interface IdleResult {
  tool: string;
  intervalMs: number;
  /** Per window, per node: CPU ms/s. */
  cpuMsPerS: number[][];
  /** Per node, over the whole window: utime+stime ms/s. */
  statMsPerS: number[];
  switchesPerS: number[][];
  rssMb: number[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function sampleAll(
  roots: Map<string, number[]>,
  options: { samples: number; windowMs: number },
): Promise<Map<string, Omit<IdleResult, "tool" | "intervalMs">>> {
  const take = () =>
    new Map(
      [...roots].map(([tool, pids]) => [tool, pids.map(sampleTree)]),
    );
  const first = take();
  let before = first;
  const out = new Map<string, Omit<IdleResult, "tool" | "intervalMs">>();
  for (const tool of roots.keys()) {
    out.set(tool, {
      cpuMsPerS: [],
      statMsPerS: [],
      switchesPerS: [],
      rssMb: [],
    });
  }
  for (let i = 0; i < options.samples; i++) {
    const startedMs = performance.now();
    await sleep(options.windowMs);
    const after = take();
    const seconds = (performance.now() - startedMs) / 1000;
    for (const [tool, samples] of after) {
      const result = out.get(tool)!;
      const prev = before.get(tool)!;
      result.cpuMsPerS.push(
        samples.map((s, n) => (s.runNs - prev[n]!.runNs) / 1e6 / seconds),
      );
      result.switchesPerS.push(
        samples.map((s, n) => (s.switches - prev[n]!.switches) / seconds),
      );
      result.rssMb = samples.map((s) => s.rssBytes / (1024 * 1024));
    }
    before = after;
  }
  const totalS = options.samples * options.windowMs / 1000;
  for (const [tool, samples] of before) {
    out.get(tool)!.statMsPerS = samples.map((s, n) =>
      (s.ticks - first.get(tool)![n]!.ticks) * (1000 / TICKS_PER_SECOND) /
      totalS
    );
  }
  return out;
}

/** Runs both tools at `intervalMs` on one topology and samples them idle. */
export async function measureIdle(
  intervalMs: number,
  options: { samples: number; windowMs: number },
): Promise<IdleResult[]> {
  const topology = await createTopology(3);
  const keepalived = KeepalivedCluster.create(topology, {
    advertIntMs: intervalMs,
  });
  const clustd = ClustdNetnsCluster.create(topology, {
    heartbeatMs: intervalMs,
    electionTimeoutMs: 2 * intervalMs,
    debug: "",
  });
  try {
    for (const host of topology.hosts) {
      keepalived.start(host.name);
      clustd.start(host.name);
    }
    if (await clustd.waitForMaster(MASTER_WAIT_MS) === null) {
      throw new Error(`clustd at ${intervalMs} ms: no master`);
    }
    await sleep(Math.max(SETTLE_MS, 3 * intervalMs));
    const roots = new Map<string, number[]>();
    for (const cluster of [keepalived, clustd]) {
      roots.set(
        cluster.tool,
        cluster.hosts.map((h) => cluster.pidOf(h) ?? 0).filter((p) => p > 0),
      );
    }
    const sampled = await sampleAll(roots, options);
    return [...sampled].map(([tool, r]) => ({ tool, intervalMs, ...r }));
  } finally {
    await clustd.close();
    await keepalived.close();
    await topology.destroy();
  }
}

function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** Per node (in host order): the median over windows of its CPU ms/s. */
function perNodeCpu(r: IdleResult): number[] {
  const nodes = r.cpuMsPerS[0]?.length ?? 0;
  return Array.from(
    { length: nodes },
    (_, n) => median(r.cpuMsPerS.map((w) => w[n]!)),
  );
}

/**
 * Markdown rows: per tool and interval, medians over windows. The ratio is
 * of the busiest nodes (each tool's master: keepalived's backups only
 * listen, so a median over nodes would flatter neither fairly).
 */
export function formatIdle(results: readonly IdleResult[]): string[] {
  const rows = [
    "| tool | interval | CPU per node, median (ms/s) | busiest node (master), median (ms/s) | utime+stime per node, whole window (ms/s) | context switches per node (/s) | RSS per node (MB) | clustd / keepalived, busiest node |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  const busiest = (r: IdleResult | undefined) =>
    r === undefined ? NaN : Math.max(...perNodeCpu(r));
  for (const r of results) {
    const other = results.find((o) =>
      o.tool === "keepalived" && o.intervalMs === r.intervalMs
    );
    const ratio = r.tool === "clustd"
      ? `${fmt(busiest(r) / busiest(other), 0)}×`
      : "–";
    rows.push(
      `| ${r.tool} | ${r.intervalMs} ms | ${
        fmt(median(r.cpuMsPerS.flat()))
      } | ${fmt(busiest(r))} | ${fmt(median(r.statMsPerS))} | ${
        fmt(median(r.switchesPerS.flat()), 0)
      } | ${r.tool === "clustd" ? fmt(median(r.rssMb), 1) : "–"} | ${ratio} |`,
    );
  }
  return rows;
}

/** The whole idle benchmark: every interval, both tools side by side. */
export async function idleBench(
  options: {
    samples: number;
    windowMs: number;
    intervalsMs?: readonly number[];
  },
): Promise<string[]> {
  const results: IdleResult[] = [];
  for (const intervalMs of options.intervalsMs ?? IDLE_INTERVALS_MS) {
    results.push(...await measureIdle(intervalMs, options));
  }
  return formatIdle(results);
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
  };
  const intervalAt = Deno.args.indexOf("--interval");
  const rows = await idleBench({
    samples: arg("--samples", 3),
    windowMs: arg("--window-ms", 10_000),
    ...(intervalAt >= 0
      ? { intervalsMs: [Number(Deno.args[intervalAt + 1])] }
      : {}),
  });
  console.log(rows.join("\n"));
}
