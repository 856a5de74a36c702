/**
 * Debian's HAProxy in front of three app servers, each health-checked with
 * `option httpchk GET /master` on its clustd node's port (DESIGN §6): traffic
 * reaches only the master's app, moves to the new master after `kill -9` of
 * the master's clustd (its app stays up, so only the failing check can take
 * it out), and never reaches a node while it is a backup. Requests are
 * sampled continuously through the failover and checked against the master
 * intervals from the hook log (started at each master's own `master_since`,
 * since a promote hook runs a little after the role changed).
 */

import assert from "node:assert/strict";
import { runClustd } from "../_process.ts";
import { sleep, TestCluster } from "./_cluster.ts";
import {
  type AppServer,
  type CheckTiming,
  demoteLoggedAt,
  freePort,
  type HandoverFigures,
  handoverFigures,
  Haproxy,
  haproxyConfig,
  illegalResponses,
  masterIntervals,
  sample,
  type Sampled,
  startApps,
  stopApps,
} from "./_haproxy.ts";

const H = 100;
const E = 400;
/** Δ = h/10 (at most 100 ms), DESIGN §1. */
const DELTA = 10;
const CHECK: CheckTiming = { interMs: 100, rise: 1, fall: 1 };
/** Margin for process scheduling, Worker and hook start on a busy 2-core CI box. */
const FAILOVER_MARGIN_MS = 2500;
/**
 * How stale HAProxy's view of a server may be: `fall` checks one interval
 * apart, the check's own time (a refused connect or a 503 takes a few ms),
 * and scheduling noise. Well below E, so an early or stray response still
 * fails the test.
 */
const SLACK_MS = CHECK.interMs * CHECK.fall + 150;
/** Request pacing through HAProxy. */
const SAMPLE_EVERY_MS = 15;
const COLD_START_MS = 15_000;
/** Steady-state sampling before the kill. */
const STEADY_MS = 500;
/** The new master must serve this long in a row before sampling stops. */
const SERVED_AFTER_MS = 500;

function rankedSurvivors(cluster: TestCluster, dead: string): string[] {
  return [...cluster.nodes.values()].filter((n) => n.spec.id !== dead)
    .sort((a, b) =>
      (b.spec.priority ?? 0) - (a.spec.priority ?? 0) ||
      (a.spec.id < b.spec.id ? -1 : 1)
    ).map((n) => n.spec.id);
}

/** Records `master_since` of `id` under `id/term` while it reports master. */
async function recordMasterSince(
  cluster: TestCluster,
  id: string,
  starts: Map<string, number>,
): Promise<void> {
  const status = await cluster.status(id);
  const since = status?.["master_since"];
  if (status?.["role"] === "master" && typeof since === "string") {
    starts.set(`${id}/${status["term"]}`, Date.parse(since));
  }
}

function describe(samples: Sampled[], fromMs: number): string {
  return samples.map((s) =>
    `+${s.sentMs - fromMs}..+${s.receivedMs - fromMs} ${s.status} ${s.body}`
  ).join("\n");
}

/** The cluster, the apps, HAProxy in front, and who was master at the start. */
interface Rig {
  cluster: TestCluster;
  haproxy: Haproxy;
  url: string;
  master: string;
  /** `master_since` of each master seen, by `node/term`. */
  starts: Map<string, number>;
}

function context(rig: { cluster: TestCluster; haproxy?: Haproxy | null }) {
  return `\nhooks:\n${Deno.readTextFileSync(rig.cluster.hookLog)}\nhaproxy:\n${
    rig.haproxy?.log() ?? ""
  }`;
}

/**
 * HAProxy counts every server up until its first check fails: wait until it
 * has logged each backup's server as DOWN (failed /master check) before
 * judging any response.
 */
async function awaitBackupsDown(
  cluster: TestCluster,
  haproxy: Haproxy,
  backups: string[],
): Promise<void> {
  const down = await cluster.waitFor(
    () =>
      backups.every((id) =>
        haproxy.log().includes(`Server masters/${id} is DOWN`)
      ),
    5000,
  );
  assert.ok(down, `HAProxy did not take the backups out:\n${haproxy.log()}`);
}

async function startRig(
  cluster: TestCluster,
  apps: AppServer[],
): Promise<Rig> {
  cluster.startAll();
  const first = await cluster.waitForPromotes(1, COLD_START_MS);
  assert.equal(
    first.length,
    1,
    `one master after cold start${context({ cluster })}`,
  );
  const master = first[0]!.node;
  const backends = apps.map((app) => ({
    id: app.id,
    appPort: app.port,
    clustdPort: cluster.nodes.get(app.id)!.port,
  }));
  const frontend = freePort();
  const haproxy = await Haproxy.start(
    cluster.dir,
    frontend,
    haproxyConfig(frontend, backends, CHECK),
  );
  const rig = {
    cluster,
    haproxy,
    url: `http://127.0.0.1:${frontend}/`,
    master,
    starts: new Map<string, number>(),
  };
  const backups = apps.map((a) => a.id).filter((id) => id !== master);
  await awaitBackupsDown(cluster, haproxy, backups);
  await recordMasterSince(cluster, master, rig.starts);
  return rig;
}

/**
 * Kills the master's clustd and samples until the new master's app served
 * for a while or the bound passed. The old master's app keeps answering:
 * only its failing /master check (connection refused) can take it out.
 */
async function killMasterAndSample(rig: Rig, boundMs: number) {
  const { master } = rig;
  const killedAt = await rig.cluster.signal(master, "SIGKILL");
  const samples = await sample(rig.url, {
    everyMs: SAMPLE_EVERY_MS,
    forMs: boundMs + 1000,
    until: (s) => {
      const last = s.at(-1);
      const firstNew = s.find((x) => x.status === 200 && x.body !== master);
      return last !== undefined && firstNew !== undefined &&
        last.body !== master &&
        last.receivedMs - firstNew.receivedMs >= SERVED_AFTER_MS;
    },
  });
  return { killedAt, samples };
}

Deno.test("HAProxy with httpchk GET /master sends traffic only to the master, through a kill -9 failover", async () => {
  const cluster = TestCluster.create({
    heartbeatMs: H,
    electionTimeoutMs: E,
    nodes: [
      { id: "n1", priority: 100 },
      { id: "n2", priority: 90 },
      { id: "n3", priority: 80 },
    ],
  });
  const apps = startApps([...cluster.nodes.keys()]);
  let rig: Rig | null = null;
  try {
    rig = await startRig(cluster, apps);
    const { master } = rig;
    const steady = await sample(rig.url, {
      everyMs: SAMPLE_EVERY_MS,
      forMs: STEADY_MS,
    });
    const strays = steady.filter((s) => s.status !== 200 || s.body !== master);
    assert.deepEqual(strays, [], `steady state: all requests reach ${master}`);

    // The best-ranked survivor campaigns first (rank 0): E + 0·Δ, then
    // HAProxy needs `rise` good checks one interval apart.
    const successor = rankedSurvivors(cluster, master)[0]!;
    const rank = 0;
    const boundMs = E + rank * DELTA + CHECK.interMs * CHECK.rise +
      FAILOVER_MARGIN_MS;
    const { killedAt, samples: through } = await killMasterAndSample(
      rig,
      boundMs,
    );
    await recordMasterSince(cluster, successor, rig.starts);

    const samples = [...steady, ...through];
    const hooks = cluster.hooks();
    const kills = new Map([[master, killedAt]]);
    const intervals = masterIntervals(hooks, kills, rig.starts);
    // A response from X is legal only if X was master at some instant in
    // [sent - SLACK_MS, received] (see illegalResponses): HAProxy routed it
    // inside [sent, received] on a check at most SLACK_MS old.
    const illegal = illegalResponses(samples, intervals, SLACK_MS);
    assert.deepEqual(
      illegal,
      [],
      `responses from a node that was not master (slack ${SLACK_MS} ms):\n${
        describe(illegal, killedAt)
      }\nintervals: ${JSON.stringify(intervals)}${context(rig)}`,
    );

    const firstNew = through.find((s) => s.status === 200 && s.body !== master);
    assert.ok(firstNew !== undefined, `no new master served${context(rig)}`);
    assert.equal(firstNew.body, successor, "the best-ranked survivor serves");
    const failoverMs = firstNew.receivedMs - killedAt;
    assert.ok(
      failoverMs <= boundMs,
      `traffic moved after ${failoverMs} ms > ${boundMs} ms${context(rig)}`,
    );
    const tail = through.filter((s) => s.sentMs > firstNew.receivedMs);
    assert.ok(
      tail.length > 0 &&
        tail.every((s) => s.status === 200 && s.body === successor),
      `after the switch every request reaches ${successor}:\n${
        describe(tail, killedAt)
      }`,
    );
    const unavailable = through.filter((s) => s.status !== 200).length;
    const lastOld = through.filter((s) => s.body === master).at(-1);
    const promote = hooks.find((h) =>
      h.node === successor && h.event === "promote"
    );
    console.log(
      `HAProxy failover: kill -9 ${master} -> last answer from ${master} ${
        lastOld === undefined
          ? "before the kill"
          : `at +${lastOld.receivedMs - killedAt} ms`
      }, ${successor} promote hook at +${
        promote === undefined ? "?" : promote.atMs - killedAt
      } ms, first answer from ${successor} at +${failoverMs} ms ` +
        `(bound ${boundMs} ms); ${unavailable} of ${through.length} requests ` +
        `got no server (503), ${samples.length} sampled`,
    );
  } finally {
    await rig?.haproxy.stop();
    await stopApps(apps);
    await cluster.close();
  }
});

/**
 * The planned-handover wait HAProxy needs: above `inter × fall` plus the
 * check's own time, so HAProxy has seen the 503 before the demote.
 */
const HANDOVER_DRAIN_MS = 400;

/** Runs `clustd <args>` on `on` while sampling; returns the figures. */
async function plannedHandover(
  rig: Rig,
  args: string[],
  on: string,
): Promise<HandoverFigures & { from: string; to: string }> {
  const { cluster } = rig;
  const from = rig.master;
  const startMs = Date.now();
  const sampling = sample(rig.url, {
    everyMs: 5,
    forMs: 10_000,
    until: (s) => {
      const fresh = s.find((x) => x.status === 200 && x.body !== from);
      const last = s.at(-1);
      return fresh !== undefined && last !== undefined &&
        last.receivedMs - fresh.receivedMs >= SERVED_AFTER_MS;
    },
  });
  await sleep(200);
  const result = await runClustd([
    ...args,
    "--config",
    cluster.nodes.get(on)!.configPath,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const samples = await sampling;
  const demoteAt = demoteLoggedAt(cluster.logOf(from), startMs);
  assert.ok(demoteAt !== null, `${from} demoted${context(rig)}`);
  const figures = handoverFigures(samples, from, demoteAt);
  if (Deno.env.get("HAPROXY_TRACE") !== undefined) {
    console.log(
      describe(
        samples.filter((x) => x.status !== 200 || x.body !== from),
        demoteAt,
      ),
    );
  }
  const to = samples.findLast((s) => s.status === 200)?.body ?? "?";
  assert.notEqual(to, from, `traffic moved off ${from}${context(rig)}`);
  rig.master = to;
  await awaitBackupsDown(
    cluster,
    rig.haproxy,
    [...cluster.nodes.keys()].filter((id) => id !== to),
  );
  return { ...figures, from, to };
}

for (const drainMs of [0, HANDOVER_DRAIN_MS]) {
  Deno.test(`HAProxy through a switchover and a drain, handover_drain_ms ${drainMs}: requests to the demoted node and 503s`, async () => {
    const cluster = TestCluster.create({
      heartbeatMs: H,
      electionTimeoutMs: E,
      extraCluster: `  handover_drain_ms: ${drainMs}`,
      nodes: [
        { id: "n1", priority: 100 },
        { id: "n2", priority: 90 },
        { id: "n3", priority: 80 },
      ],
    });
    const apps = startApps([...cluster.nodes.keys()]);
    let rig: Rig | null = null;
    try {
      rig = await startRig(cluster, apps);
      const backup = () =>
        [...cluster.nodes.keys()].find((id) => id !== rig!.master)!;
      const switchover = await plannedHandover(rig, ["switchover"], backup());
      const drained = rig.master;
      const drain = await plannedHandover(rig, ["drain", drained], backup());
      const undrain = await runClustd([
        "undrain",
        drained,
        "--config",
        cluster.nodes.get(drained)!.configPath,
      ]);
      assert.equal(undrain.code, 0, undrain.stderr);
      for (
        const [name, f] of [["switchover", switchover], [
          "drain",
          drain,
        ]] as const
      ) {
        console.log(
          `handover_drain_ms ${drainMs}, ${name} ${f.from} -> ${f.to}: ` +
            `${f.toDemoted} requests reached ${f.from} after its demote; ` +
            `${f.unavailable} got 503 over ${f.unavailableMs} ms`,
        );
        if (drainMs > 0) {
          assert.equal(
            f.toDemoted,
            0,
            `${name}: requests reached ${f.from} after its demote${
              context(rig)
            }`,
          );
        }
      }
    } finally {
      await rig?.haproxy.stop();
      await stopApps(apps);
      await cluster.close();
    }
  });
}
