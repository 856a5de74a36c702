/**
 * Failover benchmark: clustd against keepalived on the same three
 * network-namespace hosts, measured from the same kind of hook log. A round
 * faults the current master (kill -9, SIGTERM, SIGSTOP, or isolation by
 * nftables drop rules) and measures from the fault to the first line of the
 * new master's promote hook (keepalived: notify_master). The faulted host is
 * then restored (restart, SIGCONT, heal) and the cluster left to settle.
 * Dual masters are counted from master intervals over the whole run.
 *
 * Run: `deno run -A tests/bench/failover_bench.ts --runs 30 [--quick]` (root).
 * Every loop is bounded in count and time; everything is torn down on exit.
 */
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { createTopology, type Topology } from "../netns/_topology.ts";
import { startNetnsEtcd } from "../etcd/_netns_etcd.ts";
import { KeepalivedCluster } from "./_keepalived.ts";

/** A fault injected into the current master. */
export type Scenario = "kill" | "term" | "stop" | "partition";
/** Every scenario, in the order the benchmark runs them. */
export const SCENARIOS: readonly Scenario[] = [
  "kill",
  "term",
  "stop",
  "partition",
];
const POLL_MS = 5;
/** Extra wait for the first master of a freshly started cluster. */
const COLD_START_MS = 20_000;
const FAILURES_IN_A_ROW_MAX = 3;

/** One hook log line: `<ms> <host> <event> <term> <master>`. */
export interface HookLine {
  atMs: number;
  node: string;
  event: string;
  term: number;
}

/** What the benchmark needs from a cluster of either tool. */
export interface FailoverCluster {
  readonly tool: string;
  readonly hosts: readonly string[];
  readonly hookLogPath: string;
  /** How long a master may act after it last reached a majority; null: until it says so. */
  readonly leaseMs: number | null;
  start(host: string): void;
  running(host: string): boolean;
  signal(host: string, signal: Deno.Signal): Promise<number>;
  logOf(host: string): string;
  close(keep?: boolean): Promise<void>;
}

/** A host stopped acting at `atMs`: killed or exited, or frozen (SIGSTOP). */
export interface Outage {
  host: string;
  atMs: number;
  kind: "gone" | "frozen";
}

/** Samples of one (tool, interval, scenario). */
export interface Measurement {
  tool: string;
  /** Heartbeat (clustd) or advert_int (keepalived). */
  intervalMs: number;
  setting: string;
  scenario: Scenario;
  samplesMs: number[];
  dualMasters: number;
  failures: string[];
}

/** Parses the hook log; malformed lines are skipped. */
export function parseHookLog(text: string): HookLine[] {
  const lines: HookLine[] = [];
  for (const raw of text.split("\n")) {
    const [at, node, event, term] = raw.trim().split(" ");
    if (node === undefined || event === undefined || !/^\d+$/.test(at ?? "")) {
      continue;
    }
    lines.push({ atMs: Number(at), node, event, term: Number(term ?? 0) });
  }
  return lines;
}

const END_EVENTS = new Set(["demote", "fault", "stop"]);

/**
 * Counts pairs of hosts that were master at the same instant, within
 * [fromMs, toMs). A master interval runs from its promote line to its next
 * demote/fault/stop line or its death. A frozen host with a lease stops at
 * the freeze; one without (keepalived) stays master and resumes as master.
 */
export function countDualMasters(
  lines: readonly HookLine[],
  outages: readonly Outage[],
  options: { leaseMs: number | null; fromMs?: number; toMs?: number },
): number {
  const intervals: { node: string; from: number; to: number }[] = [];
  const hosts = new Set([
    ...lines.map((l) => l.node),
    ...outages.map((o) => o.host),
  ]);
  for (const host of hosts) {
    const events = [
      ...lines.filter((l) => l.node === host).map((l) => ({
        atMs: l.atMs,
        kind: l.event,
      })),
      ...outages.filter((o) => o.host === host),
    ].sort((a, b) => a.atMs - b.atMs);
    let open: number | null = null;
    const close = (at: number) => {
      if (open !== null) intervals.push({ node: host, from: open, to: at });
      open = null;
    };
    for (const e of events) {
      if (e.kind === "promote") {
        close(e.atMs);
        open = e.atMs;
      } else if (END_EVENTS.has(e.kind) || e.kind === "gone") {
        close(e.atMs);
      } else if (e.kind === "frozen" && options.leaseMs !== null) {
        // Frozen, it acts on nothing; on resume it checks its lease before
        // acting (DESIGN §1.3). Its exact lease end (last acked round + L)
        // is not visible from outside, and freeze + L would over-count.
        close(e.atMs);
      }
    }
    close(Infinity);
  }
  let count = 0;
  for (const [i, a] of intervals.entries()) {
    for (const b of intervals.slice(i + 1)) {
      const start = Math.max(a.from, b.from);
      if (a.node === b.node || start >= Math.min(a.to, b.to)) continue;
      if (
        start >= (options.fromMs ?? -Infinity) &&
        start < (options.toMs ?? Infinity)
      ) count++;
    }
  }
  return count;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(
      sorted.length - 1,
      Math.max(0, Math.ceil(p / 100 * sorted.length) - 1),
    )
  ]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Timing of one tool at one setting. */
interface Timing {
  /** Longest wait for the new master after a fault. */
  failoverTimeoutMs: number;
  /** Wait after restoring the faulted host before the next round. */
  settleMs: number;
  /** Heartbeat or advert interval: faults land at a random phase within it. */
  intervalMs: number;
}

/** Drives rounds against one cluster and keeps its hook-log view. */
class Runner {
  readonly outages: Outage[] = [];
  readonly #restartedAt = new Map<string, number>();

  constructor(
    readonly cluster: FailoverCluster,
    readonly topology: Topology,
    readonly timing: Timing,
  ) {}

  lines(): HookLine[] {
    return parseHookLog(Deno.readTextFileSync(this.cluster.hookLogPath));
  }

  /** Running hosts whose latest state line since their last start is promote. */
  masters(): string[] {
    const lines = this.lines();
    return this.cluster.hosts.filter((host) => {
      if (!this.cluster.running(host)) return false;
      const since = this.#restartedAt.get(host) ?? 0;
      const own = lines.slice(since).filter((l) => l.node === host);
      return own.at(-1)?.event === "promote";
    });
  }

  start(host: string): void {
    this.#restartedAt.set(host, this.lines().length);
    this.cluster.start(host);
  }

  async waitFor<T>(
    probe: () => T | undefined,
    timeoutMs: number,
  ): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (let value = probe(); Date.now() < deadline; value = probe()) {
      if (value !== undefined) return value;
      await sleep(POLL_MS);
    }
    return probe();
  }

  /**
   * Waits until exactly one master has held for `settleMs`; returns it.
   * `extraMs` lengthens the wait (a cold start on a fresh machine).
   */
  async stableMaster(extraMs = 0): Promise<string> {
    const { settleMs, failoverTimeoutMs } = this.timing;
    await sleep(settleMs);
    const one = () =>
      this.masters().length === 1 ? this.masters()[0] : undefined;
    const master = await this.waitFor(
      one,
      failoverTimeoutMs + settleMs + extraMs,
    );
    if (master === undefined) {
      throw new Error(`no single master: [${this.masters().join(", ")}]`);
    }
    return master;
  }

  async #inject(host: string, scenario: Scenario): Promise<number> {
    if (scenario === "partition") {
      // The drop rules are in place when the one nft run returns; stamping
      // before it would add its ~10 ms of process start to both tools.
      await this.topology.isolate(host);
      return Date.now();
    }
    const signal = {
      kill: "SIGKILL",
      term: "SIGTERM",
      stop: "SIGSTOP",
    } as const;
    const atMs = await this.cluster.signal(host, signal[scenario]);
    const gone = scenario !== "stop";
    this.outages.push({
      host,
      atMs: gone ? Date.now() : atMs,
      kind: gone ? "gone" : "frozen",
    });
    return atMs;
  }

  async #restore(host: string, scenario: Scenario): Promise<void> {
    if (scenario === "partition") await this.topology.heal();
    else if (scenario === "stop") await this.cluster.signal(host, "SIGCONT");
    else this.start(host);
  }

  /** One fault on the current master; returns fault → new promote in ms. */
  async round(scenario: Scenario): Promise<number> {
    const old = await this.stableMaster();
    // A random phase: rounds paced by fixed sleeps would otherwise hit the
    // heartbeat cycle at the same point every time and bias the samples.
    await sleep(Math.random() * this.timing.intervalMs);
    const before = this.lines().length;
    const faultAtMs = await this.#inject(old, scenario);
    const promote = await this.waitFor(
      () =>
        this.lines().slice(before).find((l) =>
          l.event === "promote" && l.node !== old
        ),
      this.timing.failoverTimeoutMs,
    );
    await this.#restore(old, scenario);
    if (promote === undefined) {
      throw new Error(
        `${scenario}: no new master within ${this.timing.failoverTimeoutMs} ms`,
      );
    }
    return promote.atMs - faultAtMs;
  }

  /** Puts every host back: started, thawed, healed. */
  async recover(): Promise<void> {
    await this.topology.heal();
    for (const h of this.cluster.hosts) {
      if (this.cluster.running(h)) await this.cluster.signal(h, "SIGCONT");
      else this.start(h);
    }
  }
}

/** Options shared by the measurement functions. */
export interface MeasureOptions {
  scenarios: readonly Scenario[];
  runs: number;
  /** Print a line per round to stderr. */
  verbose?: boolean;
}

/** What `measure()` runs against; `close` tears down extra services (etcd). */
interface Made {
  cluster: FailoverCluster;
  timing: Timing;
  setting: string;
  close?: () => Promise<void>;
}

async function measure(
  make: (topology: Topology) => Made | Promise<Made>,
  intervalMs: number,
  options: MeasureOptions & { hosts?: number },
): Promise<Measurement[]> {
  const topology = await createTopology(options.hosts ?? 3);
  let cluster: FailoverCluster | null = null;
  let made: Made | null = null;
  const results: Measurement[] = [];
  try {
    made = await make(topology);
    cluster = made.cluster;
    const runner = new Runner(cluster, topology, made.timing);
    for (const h of cluster.hosts) runner.start(h);
    // The first start may be a cold one (module cache, a loaded CI box): give
    // it longer once; a cluster that still has no master fails the rounds.
    await runner.stableMaster(COLD_START_MS).catch(() => undefined);
    for (const scenario of options.scenarios) {
      const result: Measurement = {
        tool: cluster.tool,
        intervalMs,
        setting: made.setting,
        scenario,
        samplesMs: [],
        dualMasters: 0,
        failures: [],
      };
      const fromMs = Date.now();
      let inARow = 0;
      for (
        let run = 0;
        run < options.runs && inARow < FAILURES_IN_A_ROW_MAX;
        run++
      ) {
        try {
          const sampleMs = await runner.round(scenario);
          result.samplesMs.push(sampleMs);
          inARow = 0;
          if (options.verbose) {
            console.error(
              `${made.setting} ${scenario} #${run}: ${sampleMs} ms`,
            );
          }
        } catch (error: unknown) {
          inARow++;
          result.failures.push(
            error instanceof Error ? error.message : String(error),
          );
          if (options.verbose) {
            console.error(
              `${made.setting} ${scenario} #${run}: ${String(error)}`,
            );
          }
          await runner.recover();
        }
      }
      await runner.stableMaster().catch((error: unknown) => {
        result.failures.push(`after the last round: ${String(error)}`);
      });
      result.dualMasters = countDualMasters(runner.lines(), runner.outages, {
        leaseMs: cluster.leaseMs,
        fromMs,
        toMs: Date.now(),
      });
      results.push(result);
    }
  } finally {
    await cluster?.close();
    await made?.close?.();
    await topology.destroy();
  }
  return results;
}

/** Measures keepalived (VRRPv3, unicast, nopreempt) at one advert_int. */
export function measureKeepalived(
  advertIntMs: number,
  options: MeasureOptions,
): Promise<Measurement[]> {
  return measure(
    (topology) => ({
      cluster: KeepalivedCluster.create(topology, { advertIntMs }),
      timing: {
        failoverTimeoutMs: 5 * advertIntMs + 3000,
        settleMs: 4 * advertIntMs + 300,
        intervalMs: advertIntMs,
      },
      setting: `advert_int ${advertIntMs / 1000} s`,
    }),
    advertIntMs,
    options,
  );
}

/** Measures clustd at one heartbeat (election timeout default 2 × heartbeat). */
export function measureClustd(
  heartbeatMs: number,
  options: MeasureOptions & { electionTimeoutMs?: number },
): Promise<Measurement[]> {
  const electionTimeoutMs = options.electionTimeoutMs ?? 2 * heartbeatMs;
  return measure(
    (topology) => ({
      cluster: ClustdNetnsCluster.create(topology, {
        heartbeatMs,
        electionTimeoutMs,
      }),
      // A restarted node votes only E after its start, so settle covers E.
      timing: {
        failoverTimeoutMs: 4 * electionTimeoutMs + 3000,
        settleMs: electionTimeoutMs + 2 * heartbeatMs + 1000,
        intervalMs: heartbeatMs,
      },
      setting: `heartbeat ${heartbeatMs} ms, E ${electionTimeoutMs} ms`,
    }),
    heartbeatMs,
    options,
  );
}

/**
 * Measures clustd with `backend: etcd` at one lease TTL: clustd on three
 * hosts, a three-member etcd on three more; the partition fault cuts the
 * master off from etcd.
 */
export function measureClustdEtcd(
  ttlMs: number,
  options: MeasureOptions,
): Promise<Measurement[]> {
  return measure(
    async (topology) => {
      const etcd = await startNetnsEtcd(topology, topology.hosts.slice(3));
      const endpoints = etcd.endpoints;
      return {
        cluster: ClustdNetnsCluster.create(topology, {
          heartbeatMs: 100,
          members: 3,
          etcd: { endpoints, prefix: "/clustd/bench", ttlMs },
        }),
        timing: {
          failoverTimeoutMs: 3 * ttlMs + 3000,
          settleMs: ttlMs + 1000,
          intervalMs: ttlMs / 6,
        },
        setting: `etcd backend, ttl ${ttlMs / 1000} s`,
        close: () => etcd.stop(),
      };
    },
    ttlMs,
    { ...options, hosts: 6 },
  );
}

function ms(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value)) : "–";
}

function median(m: Measurement | undefined): number {
  return m === undefined
    ? NaN
    : percentile([...m.samplesMs].sort((a, b) => a - b), 50);
}

/** Markdown table rows (header first) with the clustd/keepalived median ratios. */
export function formatTable(results: readonly Measurement[]): string[] {
  const rows = [
    "| tool | setting | fault | runs | min | median | p90 | p99 | max | dual masters | ratio vs keepalived same interval | ratio vs advert_int 1 s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const keepalived = (intervalMs: number, scenario: Scenario) =>
    results.find((r) =>
      r.tool === "keepalived" && r.intervalMs === intervalMs &&
      r.scenario === scenario
    );
  for (const r of results) {
    const sorted = [...r.samplesMs].sort((a, b) => a - b);
    const stats = [0, 50, 90, 99, 100].map((p) => ms(percentile(sorted, p)));
    const ratio = (other: Measurement | undefined) => {
      const value = median(r) / median(other);
      return r.tool === "clustd" && Number.isFinite(value)
        ? value.toFixed(2)
        : "–";
    };
    const failed = r.failures.length === 0
      ? ""
      : ` (${r.failures.length} failed)`;
    rows.push(
      `| ${r.tool} | ${r.setting} | ${r.scenario} | ${sorted.length}${failed} | ${
        stats.join(" | ")
      } | ${r.dualMasters} | ${ratio(keepalived(r.intervalMs, r.scenario))} | ${
        ratio(keepalived(1000, r.scenario))
      } |`,
    );
  }
  return rows;
}

/**
 * The whole benchmark. `quick`: only the fast settings (keepalived 0.1 s,
 * clustd heartbeat 100 ms). Full: keepalived advert_int 1 s, 1.5 s and 0.1 s;
 * clustd at the defaults (1500/3000), at heartbeat 1000 ms and 100 ms.
 */
export async function failoverBench(
  options: {
    runs: number;
    quick: boolean;
    verbose?: boolean;
    tools?: readonly string[];
    /** Only these intervals (keepalived advert_int / clustd heartbeat), in ms. */
    intervalsMs?: readonly number[];
  },
): Promise<string[]> {
  const tools = options.tools ?? ["keepalived", "clustd", "etcd"];
  const measureOptions = {
    scenarios: SCENARIOS,
    runs: options.runs,
    ...(options.verbose === undefined ? {} : { verbose: options.verbose }),
  };
  const results: Measurement[] = [];
  const fast = options.quick;
  const keepalivedMs = !tools.includes("keepalived")
    ? []
    : fast
    ? [100]
    : [1000, 1500, 100];
  const clustdMs = !tools.includes("clustd")
    ? []
    : fast
    ? [100]
    : [1500, 1000, 100];
  const wanted = (ms: number) =>
    options.intervalsMs === undefined || options.intervalsMs.includes(ms);
  for (const advertIntMs of keepalivedMs.filter(wanted)) {
    results.push(...await measureKeepalived(advertIntMs, measureOptions));
  }
  for (const heartbeatMs of clustdMs.filter(wanted)) {
    results.push(...await measureClustd(heartbeatMs, measureOptions));
  }
  // The etcd backend at etcd's smallest TTL, and at the default in full runs.
  const etcdTtlMs = !tools.includes("etcd") ? [] : fast ? [1000] : [3000, 1000];
  for (const ttlMs of etcdTtlMs.filter(wanted)) {
    results.push(...await measureClustdEtcd(ttlMs, measureOptions));
  }
  const rows = formatTable(results);
  for (const r of results) {
    for (const failure of r.failures) {
      rows.push(`<!-- ${r.tool} ${r.setting}: ${failure} -->`);
    }
  }
  return rows;
}

if (import.meta.main) {
  const runsAt = Deno.args.indexOf("--runs");
  const runs = runsAt >= 0 ? Number(Deno.args[runsAt + 1]) : 30;
  const toolAt = Deno.args.indexOf("--tool");
  const tools = toolAt >= 0
    ? [Deno.args[toolAt + 1] ?? ""]
    : ["keepalived", "clustd", "etcd"];
  const intervalAt = Deno.args.indexOf("--interval");
  const intervalsMs = intervalAt >= 0
    ? [Number(Deno.args[intervalAt + 1])]
    : undefined;
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
    console.error(
      "Usage: failover_bench.ts [--runs N (1..1000)] [--quick] [--tool keepalived|clustd|etcd] [--interval MS] [--verbose]",
    );
    Deno.exit(2);
  }
  const rows = await failoverBench({
    runs,
    quick: Deno.args.includes("--quick"),
    verbose: Deno.args.includes("--verbose"),
    tools,
    ...(intervalsMs === undefined ? {} : { intervalsMs }),
  });
  console.log(rows.join("\n"));
}
