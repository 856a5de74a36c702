import assert from "node:assert/strict";
import { parseSimArgs, runSim } from "./main.ts";
import { runSchedule } from "./schedule.ts";

/** Seeds the CI swarm runs (the issue asks for at least 1000). */
const CI_SEEDS = 1000;

Deno.test("the simulator runs 1000 seeded schedules without a violation", () => {
  const lines: string[] = [];
  const started = performance.now();
  const violations = runSim(
    { seeds: CI_SEEDS, seed: 1, nodes: undefined, verbose: false },
    (line) => lines.push(line),
  );
  const seconds = (performance.now() - started) / 1000;
  assert.equal(violations, 0, lines.slice(0, 80).join("\n"));
  assert.equal(lines.at(-1), `sim: ${CI_SEEDS} schedules, 0 violations`);
  console.log(
    `  ${CI_SEEDS} schedules in ${seconds.toFixed(1)} s (${
      (CI_SEEDS / seconds).toFixed(0)
    }/s)`,
  );
});

Deno.test("the simulator finds the split brain when voters skip the lease refusal", () => {
  let found = null;
  for (let seed = 1; seed <= 300 && found === null; seed++) {
    const result = runSchedule({ seed, mutation: "skip_lease_refusal" });
    if (result.violation?.check === "one master at a time") found = result;
  }
  assert.ok(found !== null, "no split brain found in 300 seeds");
  assert.match(found.violation?.message ?? "", /two masters at once/);
  assert.ok(
    (found.violation?.trace.length ?? 0) > 10,
    "a readable trace comes with it",
  );
});

Deno.test("the simulator finds the split brain when a leader ignores its lease", () => {
  let found = false;
  for (let seed = 1; seed <= 300 && !found; seed++) {
    found = runSchedule({ seed, mutation: "ignore_lease_expiry" }).violation
      ?.check ===
      "one master at a time";
  }
  assert.ok(found);
});

Deno.test("the simulator finds a promote during a demote hook without the step-down margin", () => {
  // The schedules give step-down demote hooks the budget E − L + M; with M
  // forced to 0 a hook may still run when the new master promotes.
  let found = null;
  for (let seed = 1; seed <= 300 && found === null; seed++) {
    const result = runSchedule({ seed, mutation: "no_step_down_margin" });
    if (result.violation?.check === "demote before promote") found = result;
  }
  assert.ok(found !== null, "no early promote found in 300 seeds");
  assert.match(found.violation?.message ?? "", /demote hook runs until/);
});

Deno.test("the same seed replays the same schedule exactly", () => {
  for (const seed of [3, 42, 1001]) {
    const a = runSchedule({ seed });
    const b = runSchedule({ seed });
    assert.deepEqual(a, b);
    const mutated = [
      runSchedule({ seed: 6, mutation: "skip_lease_refusal" }),
      runSchedule({ seed: 6, mutation: "skip_lease_refusal" }),
    ];
    assert.deepEqual(mutated[0], mutated[1]);
  }
});

Deno.test("every cluster shape runs: 2 + witness, 3, 5 and 7 nodes", () => {
  for (const nodes of [2, 3, 5, 7] as const) {
    const result = runSchedule({ seed: 77, nodes });
    assert.equal(result.nodes, nodes);
    assert.equal(result.violation, null, result.violation?.message);
    assert.ok(result.failoverMs !== null && result.failoverMs > 0);
  }
});

Deno.test("sim arguments: --seeds, --seed, --nodes, and clear errors", () => {
  assert.deepEqual(
    parseSimArgs(["--seeds", "5", "--seed", "9", "--nodes", "7"]),
    {
      seeds: 5,
      seed: 9,
      nodes: 7,
      verbose: false,
    },
  );
  assert.equal(
    (parseSimArgs(["--", "--seeds", "3"]) as { seeds: number }).seeds,
    3,
  );
  assert.deepEqual(parseSimArgs(["--seed", "9"]), {
    seeds: 1,
    seed: 9,
    nodes: undefined,
    verbose: false,
  });
  assert.match(
    parseSimArgs(["--nodes", "4"]) as string,
    /--nodes must be one of 2, 3, 5, 7/,
  );
  assert.match(
    parseSimArgs(["--seeds", "x"]) as string,
    /--seeds must be a non-negative integer/,
  );
  assert.equal(typeof parseSimArgs(["--bogus"]), "string");
});

Deno.test("a violation line names the seed, the check and how to replay it", () => {
  const lines: string[] = [];
  const count = runSim(
    { seeds: 100, seed: 1, nodes: undefined, verbose: false },
    (line) => lines.push(line),
    "skip_lease_refusal",
  );
  assert.ok(count >= 1);
  // The injected bug may first show as a promote during the old master's
  // demote hook; the split brain itself must be found too.
  const first = lines.find((line) =>
    line.startsWith("violation") && line.includes('"one master at a time"')
  );
  assert.match(
    first ?? "",
    /^violation seed=\d+ nodes=\d check="one master at a time" at=[\d.]+ms: two masters at once/,
  );
  assert.match(first ?? "", /replay: deno task sim --seed \d+/);
  assert.ok(
    lines.some((line) => /^ +[\d.]+ms n\d +PROMOTE/.test(line)),
    "the trace shows promotions",
  );
  assert.equal(lines.at(-1), `sim: 100 schedules, ${count} violations`);
});

Deno.test("seeds that once found a liveness or safety bug stay clean", () => {
  // Each was a real finding: split votes after a lost last heartbeat, a
  // candidate unseating a just-elected leader, total state_dir loss.
  const regressions = [154, 197, 5141, 5986, 104456, 202602, 219055, 245498];
  for (const seed of regressions) {
    const result = runSchedule({ seed });
    assert.equal(
      result.violation,
      null,
      `seed ${seed}: ${result.violation?.message}`,
    );
  }
});
