/**
 * Demote finishes before anyone promotes, also after a partition (issue 10):
 * three real `clustd run` daemons in network namespaces, a demote hook that
 * takes 50 ms, and the master cut off by one nft transaction on the bridge,
 * 20 rounds at the default timings (h 1500 ms, E 3000 ms) and 20 at h 100 ms
 * (E 200 ms). Every round, the isolated master's demote hook must have ended
 * (its last line written) before the new master's promote hook began (its
 * first line). The margins are printed per timing. Needs root, `ip` and
 * `nft` (skipped otherwise); everything is torn down, also on failure.
 */
import assert from "node:assert/strict";
import { sleep } from "../_process.ts";
import { ClustdNetnsCluster } from "../netns/_clustd_cluster.ts";
import { topologySupported } from "../netns/_topology.ts";
import { CI_MARGIN_MS, MASTER_MS, READY_MS } from "./_timing.ts";

const supported = await topologySupported();
const ROUNDS = 20;
/** How long the demote hook takes (the issue's figure). */
const DEMOTE_HOOK_MS = 50;
/**
 * A round whose demote hook itself (first line to last) took longer than
 * this was not a 50 ms hook: the machine starved it (seen at 180 ms on a
 * shared 2-core box). Such a round, or one where the old master's own loop
 * stalled past its lease (it then demotes for `lease_expired`, late by
 * design, as after SIGSTOP), is reported and replaced by another round, at
 * most EXTRA_ROUNDS_MAX times; every counted round must keep the order.
 */
const HOOK_OVERRUN_MAX_MS = 40;
const EXTRA_ROUNDS_MAX = 10;

/**
 * After its first line (written by the harness's hook line): a demote sleeps
 * 50 ms; every hook then appends `<ms> <node> <event>-end <term>` to the same
 * log, so the log holds when each hook began and ended.
 */
const HOOK_EXTRA = `[ "$CLUSTD_EVENT" = demote ] && sleep ${
  DEMOTE_HOOK_MS / 1000
}
echo "$(date +%s%3N) $CLUSTD_NODE_ID $CLUSTD_EVENT-end $CLUSTD_TERM" >> "$(dirname "$0")/hooks.log"
exit 0`;

interface Mark {
  atMs: number;
  node: string;
  what: string;
  term: number;
  reason: string;
}

function marks(cluster: ClustdNetnsCluster): Mark[] {
  const out: Mark[] = [];
  for (const raw of Deno.readTextFileSync(cluster.hookLogPath).split("\n")) {
    const [at, node, what, term, , reason] = raw.trim().split(" ");
    if (!/^\d+$/.test(at ?? "") || node === undefined || what === undefined) {
      continue;
    }
    out.push({
      atMs: Number(at),
      node,
      what,
      term: Number(term),
      reason: reason ?? "",
    });
  }
  return out;
}

function report(cluster: ClustdNetnsCluster, message: string): string {
  const logs = cluster.hosts.map((n) =>
    `--- ${n}\n${cluster.logTail(n, 2500)}`
  );
  return `${message}\nhooks:\n${
    Deno.readTextFileSync(cluster.hookLogPath).split("\n").slice(-40).join(
      "\n",
    )
  }\n${logs.join("\n")}`;
}

/** Wall-clock ms of `host`'s mesh log lines matching `pattern` since `sinceMs`. */
function logTimes(
  cluster: ClustdNetnsCluster,
  host: string,
  pattern: RegExp,
  sinceMs: number,
): number[] {
  const times: number[] = [];
  for (const line of cluster.logOf(host).split("\n")) {
    if (!pattern.test(line)) continue;
    const atMs = Date.parse(line.slice(0, line.indexOf(" ")));
    if (atMs >= sinceMs) times.push(atMs);
  }
  return times;
}

/** After a heal: `host` is connected again to every peer it lost. */
function rejoined(
  cluster: ClustdNetnsCluster,
  host: string,
  cutMs: number,
  healMs: number,
): boolean {
  return cluster.hosts.filter((p) => p !== host).every((peer) => {
    const lost = logTimes(
      cluster,
      host,
      new RegExp(`mesh: peer down peer=${peer} `),
      cutMs,
    );
    if (lost.length === 0) return true;
    const back = logTimes(
      cluster,
      host,
      new RegExp(`mesh: peer up peer=${peer} `),
      healMs,
    );
    return back.length > 0;
  });
}

/** One round: isolate the master, check the hook order, heal, wait for the rejoin. */
/** What one round measured: hook order margin and the hook's own duration. */
interface RoundResult {
  old: string;
  newMaster: string;
  marginMs: number;
  hookMs: number;
  /** Why the old master demoted: `quorum_lost`, or `lease_expired` if it stalled. */
  reason: string;
}

/** Why a round does not count, or null: the hook or the old master was starved. */
function starved(r: RoundResult): string | null {
  if (r.reason !== "quorum_lost") {
    return `${r.old} demoted for ${r.reason} (its own loop stalled)`;
  }
  if (r.hookMs > DEMOTE_HOOK_MS + HOOK_OVERRUN_MAX_MS) {
    return `${r.old}'s hook took ${r.hookMs} ms`;
  }
  return null;
}

async function round(
  cluster: ClustdNetnsCluster,
  index: number,
): Promise<RoundResult> {
  const E = cluster.electionTimeoutMs;
  const old = await cluster.waitForMaster(MASTER_MS);
  assert.ok(old !== null, report(cluster, `round ${index}: no master`));
  const cutMs = Date.now();
  await cluster.topology.isolate(old);
  const after = () => marks(cluster).filter((m) => m.atMs >= cutMs);
  const done = await cluster.waitFor(() => {
    const seen = after();
    return seen.some((m) => m.node !== old && m.what === "promote") &&
      seen.some((m) => m.node === old && m.what === "demote-end");
  }, 3 * E + CI_MARGIN_MS);
  assert.ok(done, report(cluster, `round ${index}: no new master or demote`));
  const seen = after();
  const demote = seen.find((m) => m.node === old && m.what === "demote");
  const demoteEnd = seen.find((m) =>
    m.node === old && m.what === "demote-end" && m.term === demote?.term
  );
  const promote = seen.find((m) => m.node !== old && m.what === "promote");
  assert.ok(demote !== undefined && demoteEnd !== undefined);
  assert.ok(promote !== undefined);
  const result = {
    old,
    newMaster: promote.node,
    marginMs: promote.atMs - demoteEnd.atMs,
    hookMs: demoteEnd.atMs - demote.atMs,
    reason: demote.reason,
  };
  if (starved(result) === null) {
    assert.ok(
      result.marginMs > 0,
      report(
        cluster,
        `round ${index}: ${promote.node}'s promote began ${-result
          .marginMs} ms before ${old}'s demote ended`,
      ),
    );
  }
  const healMs = Date.now();
  await cluster.topology.heal();
  const back = await cluster.waitFor(
    () => rejoined(cluster, old, cutMs, healMs),
    3 * cluster.heartbeatMs + CI_MARGIN_MS,
  );
  assert.ok(back, report(cluster, `round ${index}: ${old} did not rejoin`));
  // Let a round of heartbeats reach it before the next isolation.
  await sleep(cluster.heartbeatMs / 2);
  return result;
}

for (const [heartbeatMs, electionTimeoutMs] of [[1500, 3000], [100, 200]]) {
  Deno.test({
    name:
      `an isolated master's 50 ms demote hook ends before the new master's promote begins, ${ROUNDS} rounds at h ${heartbeatMs} ms, E ${electionTimeoutMs} ms`,
    ignore: !supported,
    fn: async () => {
      const cluster = await ClustdNetnsCluster.createWithTopology({
        nodes: 3,
        heartbeatMs: heartbeatMs!,
        electionTimeoutMs: electionTimeoutMs!,
        hook: { extra: HOOK_EXTRA },
      });
      try {
        cluster.startAll();
        assert.ok(await cluster.waitReady(READY_MS), report(cluster, "ready"));
        const margins: number[] = [];
        const overruns: string[] = [];
        for (
          let i = 1;
          margins.length < ROUNDS && i <= ROUNDS + EXTRA_ROUNDS_MAX;
          i++
        ) {
          const r = await round(cluster, i);
          const why = starved(r);
          if (why === null) margins.push(r.marginMs);
          else overruns.push(`round ${i}: ${why} (margin ${r.marginMs} ms)`);
        }
        assert.equal(
          margins.length,
          ROUNDS,
          `too many starved rounds: ${overruns.join("; ")}`,
        );
        margins.sort((a, b) => a - b);
        console.log(
          `h ${heartbeatMs} ms: demote end -> promote begin margin min ${
            margins[0]
          } ms, median ${margins[Math.floor(ROUNDS / 2)]} ms, max ${
            margins.at(-1)
          } ms over ${ROUNDS} rounds${
            overruns.length === 0
              ? ""
              : `; not counted (starved): ${overruns.join("; ")}`
          }`,
        );
      } finally {
        await cluster.close();
      }
    },
  });
}
