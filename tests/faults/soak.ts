/**
 * The soak: `deno task soak -- --minutes M [--seed S] [--nodes 3|5]
 * [--heartbeat-ms H] [--keep]`. Runs a clustd cluster on network-namespace
 * hosts while the nemesis injects random faults of every kind (partition,
 * one-way partition, link flap, kill -9 + restart, SIGSTOP/SIGCONT, SIGTERM +
 * restart), runs the external checker after every round and over the whole
 * log at the end, prints the counts and exits 1 on any violation (2 on bad
 * usage or a machine that cannot build namespaces).
 *
 * Bounded: stops starting rounds at M minutes. Tears everything down on exit,
 * also on failure and Ctrl-C; with --keep (or after a violation) the logs stay.
 * Daemons are started from this checkout's src/ at every restart: run long
 * soaks from a clean worktree so edits in progress are not what restarts.
 */
import { onStopSignal } from "../netns/_cleanup.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { topologySupported } from "../netns/_topology.ts";
import { check, type CheckReport, livenessBoundMs } from "./_checker.ts";
import { FAULT_KINDS, Nemesis } from "./_nemesis.ts";
import { CI_MARGIN_MS, MASTER_MS, READY_MS } from "./_timing.ts";

const MINUTES_MAX = 24 * 60;
const ROUNDS_MAX = 100_000;

/** Parsed command line. */
interface SoakArgs {
  minutes: number;
  seed: number;
  nodes: number;
  heartbeatMs: number;
  keep: boolean;
}

const USAGE =
  "Usage: deno task soak -- --minutes M [--seed S] [--nodes 3|5] [--heartbeat-ms H] [--keep]";

/** Parses argv (a leading `--` from `deno task` is skipped); returns an error string on bad input. */
export function parseArgs(argv: readonly string[]): SoakArgs | string {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  const out: SoakArgs = {
    minutes: NaN,
    seed: crypto.getRandomValues(new Uint32Array(1))[0] ?? 1,
    nodes: 3,
    heartbeatMs: 100,
    keep: false,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (flag === "--keep") {
      out.keep = true;
      continue;
    }
    const value = Number(args[i + 1]);
    i++;
    if (!Number.isFinite(value)) {
      return `Option "${flag}" needs a number, got "${args[i] ?? ""}"`;
    }
    if (flag === "--minutes") out.minutes = value;
    else if (flag === "--seed") out.seed = Math.trunc(value) >>> 0;
    else if (flag === "--nodes") out.nodes = value;
    else if (flag === "--heartbeat-ms") out.heartbeatMs = value;
    else return `Unknown option "${flag}"`;
  }
  if (!(out.minutes > 0 && out.minutes <= MINUTES_MAX)) {
    return `"--minutes" must be in (0, ${MINUTES_MAX}]`;
  }
  if (out.nodes !== 3 && out.nodes !== 5) return `"--nodes" must be 3 or 5`;
  if (!(out.heartbeatMs >= 10 && out.heartbeatMs <= 1500)) {
    return `"--heartbeat-ms" must be 10..1500`;
  }
  return out;
}

function summary(
  args: SoakArgs,
  nemesis: Nemesis,
  result: CheckReport,
  elapsedMs: number,
  rounds: number,
): string {
  const kinds = FAULT_KINDS.map((k) => `${k}=${nemesis.counts.get(k) ?? 0}`);
  const total = [...nemesis.counts.values()].reduce((a, b) => a + b, 0);
  return [
    `soak: seed=${args.seed} nodes=${args.nodes} heartbeat_ms=${args.heartbeatMs} minutes=${
      (elapsedMs / 60_000).toFixed(1)
    } rounds=${rounds}`,
    `faults: total=${total} ${kinds.join(" ")}`,
    `promotions=${result.promotions} failovers=${result.masterChanges} heals=${nemesis.heals.length} worst_heal_to_master_ms=${result.worstHealToMasterMs} late_hook_lines=${result.lateLines}`,
    `violations=${result.violations.length}`,
  ].join("\n");
}

async function soak(args: SoakArgs): Promise<number> {
  const cluster = await ClustdNetnsCluster.createWithTopology({
    nodes: args.nodes,
    heartbeatMs: args.heartbeatMs,
    keepDir: true,
  });
  let violated = false;
  try {
    const bound = livenessBoundMs({
      electionTimeoutMs: cluster.electionTimeoutMs,
      rankDelayMs: cluster.rankDelayMs,
      nodes: args.nodes,
    }, CI_MARGIN_MS);
    console.log(
      `soak: seed=${args.seed} E=${cluster.electionTimeoutMs} ms lease=${cluster.leaseMs} ms bound=${bound} ms logs=${cluster.dir}`,
    );
    cluster.startAll();
    if (!await cluster.waitReady(READY_MS)) throw new Error("Nodes not ready");
    const firstHealMs = Date.now();
    if (await cluster.waitForMaster(MASTER_MS) === null) {
      throw new Error("No first master");
    }
    const nemesis = new Nemesis(cluster, {
      seed: args.seed,
      settleMs: bound,
      log: (line) => console.log(`  ${new Date().toISOString()} ${line}`),
    });
    const startMs = Date.now();
    const deadlineMs = startMs + args.minutes * 60_000;
    const judge = () =>
      check({
        hooks: cluster.hooks(),
        lifecycle: cluster.lifecycle,
        heals: [firstHealMs, ...nemesis.heals],
        leaseMs: cluster.leaseMs,
        livenessBoundMs: bound,
        endMs: Date.now(),
      });
    let rounds = 0;
    let seen = 0;
    let aborted: string | null = null;
    // SIGTERM/SIGHUP end the run after the current round, with the summary
    // and the teardown (Ctrl-C tears the topology down and exits at once).
    const clearStop = onStopSignal(() => {
      aborted = "stopped by a signal";
    });
    while (
      Date.now() < deadlineMs && rounds < ROUNDS_MAX && aborted === null
    ) {
      try {
        await nemesis.round();
      } catch (error: unknown) {
        // A harness fault (a daemon that cannot start, a failed nft call):
        // judge what ran so far, then fail the run without a stack trace.
        aborted = error instanceof Error ? error.message : String(error);
        break;
      }
      rounds++;
      const result = judge();
      for (const violation of result.violations.slice(seen)) {
        console.log(`VIOLATION: ${violation}`);
      }
      seen = result.violations.length;
    }
    clearStop();
    const result = judge();
    violated = result.violations.length > 0;
    for (const violation of result.violations) {
      console.log(`VIOLATION: ${violation}`);
    }
    console.log(summary(args, nemesis, result, Date.now() - startMs, rounds));
    if (aborted !== null) {
      console.log(`soak: ABORTED after ${rounds} rounds: ${aborted}`);
      violated = true;
    }
  } finally {
    const keep = args.keep || violated;
    if (keep) console.log(`soak: logs kept in ${cluster.dir}`);
    await cluster.close();
    if (!keep) Deno.removeSync(cluster.dir, { recursive: true });
  }
  return violated ? 1 : 0;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  if (typeof args === "string") {
    console.error(`${args}\n${USAGE}`);
    Deno.exit(2);
  }
  if (!await topologySupported()) {
    console.error(
      "The soak needs root on Linux with `ip` (iproute2) and `nft` (nftables)",
    );
    Deno.exit(2);
  }
  Deno.exit(await soak(args));
}
