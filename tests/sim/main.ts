/**
 * `deno task sim -- --seeds N --seed S --nodes K`: runs N seeded schedules
 * starting at seed S (default: one random-free fixed start, 1), prints one
 * line per violation with its seed and the trace that led to it, and ends
 * with `sim: <schedules> schedules, <violations> violations`. Exit 1 on any
 * violation, 2 on bad arguments. `--seed S` alone replays one schedule.
 */

import { parseArgs } from "node:util";
import type { ElectionMutation } from "../../src/election/types.ts";
import { CLUSTER_SIZES, type ClusterSize, runSchedule } from "./schedule.ts";

/** Parsed command line. */
export interface SimArgs {
  seeds: number;
  seed: number;
  nodes: ClusterSize | undefined;
  verbose: boolean;
}

/** Parses argv; returns an error sentence on bad input. */
export function parseSimArgs(argv: string[]): SimArgs | string {
  let parsed;
  try {
    parsed = parseArgs({
      // `deno task sim -- --seeds N` passes the `--` through.
      args: argv[0] === "--" ? argv.slice(1) : argv,
      options: {
        seeds: { type: "string" },
        seed: { type: "string" },
        nodes: { type: "string" },
        verbose: { type: "boolean", short: "v" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
  const { values } = parsed;
  const integer = (
    name: string,
    text: string | undefined,
    fallback: number,
  ) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    return Number.isSafeInteger(value) && value >= 0
      ? value
      : `--${name} must be a non-negative integer, got "${text}"`;
  };
  const seeds = integer(
    "seeds",
    values.seeds,
    values.seed === undefined ? 100 : 1,
  );
  const seed = integer("seed", values.seed, 1);
  if (typeof seeds === "string") return seeds;
  if (typeof seed === "string") return seed;
  let nodes: ClusterSize | undefined;
  if (values.nodes !== undefined) {
    const n = Number(values.nodes);
    if (!CLUSTER_SIZES.includes(n as ClusterSize)) {
      return `--nodes must be one of ${
        CLUSTER_SIZES.join(", ")
      } (2 = two voters + a witness), got "${values.nodes}"`;
    }
    nodes = n as ClusterSize;
  }
  return { seeds, seed, nodes, verbose: values.verbose ?? false };
}

/**
 * Runs the swarm; returns the number of violations. `mutation` is for tests
 * only (the command line cannot set it).
 */
export function runSim(
  args: SimArgs,
  print: (line: string) => void,
  mutation?: ElectionMutation,
): number {
  let violations = 0;
  let events = 0;
  let simulatedMs = 0;
  const started = performance.now();
  for (let i = 0; i < args.seeds; i++) {
    const seed = args.seed + i;
    const result = runSchedule({
      seed,
      ...(args.nodes === undefined ? {} : { nodes: args.nodes }),
      ...(mutation === undefined ? {} : { mutation }),
    });
    events += result.events;
    simulatedMs += result.simulatedMs;
    if (result.violation !== null) {
      violations++;
      const v = result.violation;
      print(
        `violation seed=${seed} nodes=${result.nodes} check="${v.check}" at=${
          v.atMs.toFixed(3)
        }ms: ${v.message}` +
          ` (replay: deno task sim --seed ${seed}${
            args.nodes === undefined ? "" : ` --nodes ${args.nodes}`
          })`,
      );
      for (const line of v.trace) print(line);
    } else if (args.verbose) {
      print(
        `ok seed=${seed} nodes=${result.nodes} events=${result.events} failover=${
          result.failoverMs?.toFixed(1)
        }ms`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (args.verbose) {
    print(
      `sim: ${events} events, ${(simulatedMs / 1000).toFixed(0)} s simulated, ${
        seconds.toFixed(1)
      } s wall, ${(args.seeds / seconds).toFixed(0)} schedules/s`,
    );
  }
  print(`sim: ${args.seeds} schedules, ${violations} violations`);
  return violations;
}

if (import.meta.main) {
  const args = parseSimArgs(Deno.args);
  if (typeof args === "string") {
    console.error(`sim: ${args}`);
    console.error(
      "usage: deno task sim -- [--seeds N] [--seed S] [--nodes 2|3|5|7] [--verbose]",
    );
    Deno.exit(2);
  }
  Deno.exit(runSim(args, (line) => console.log(line)) > 0 ? 1 : 0);
}
