/**
 * `deno task bench [-- --runs N] [--quick] [--only mesh|footprint|failover|yaml|vip|etcd_client]`:
 * every benchmark, printed as markdown tables for the README. Real timings,
 * real processes; the failover part needs root (network namespaces) and
 * keepalived. Bounded: each part stops by itself.
 */

import { parseArgs } from "node:util";
import { etcdClientBench } from "./etcd_client_bench.ts";
import { failoverBench } from "./failover_bench.ts";
import { footprintBench, resourceFootprintRow } from "./footprint_bench.ts";
import { vipBench } from "./vip_bench.ts";
import { meshBench } from "./mesh_bench.ts";
import { yamlBench } from "./yaml_bench.ts";

const USAGE =
  "Usage: deno task bench [--runs N] [--quick] [--only mesh|footprint|failover|yaml|vip|etcd_client]";

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: args[0] === "--" ? args.slice(1) : args,
      options: {
        runs: { type: "string" },
        quick: { type: "boolean" },
        only: { type: "string", multiple: true },
      },
      strict: true,
    }));
  } catch (error: unknown) {
    console.error(
      `bench: ${
        error instanceof Error ? error.message.split(". ")[0] : error
      }\n${USAGE}`,
    );
    return 2;
  }
  const runs = Number(values.runs ?? "30");
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
    console.error(`bench: --runs must be an integer from 1 to 1000\n${USAGE}`);
    return 2;
  }
  const only = values.only ??
    ["mesh", "footprint", "failover", "yaml", "vip", "etcd_client"];
  const machine =
    `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
  console.log(
    `# clustd benchmarks (${new Date().toISOString()}, ${machine})\n`,
  );
  if (only.includes("mesh")) {
    console.log("## Mesh\n");
    console.log((await meshBench()).join("\n") + "\n");
  }
  if (only.includes("footprint")) {
    console.log(
      "## Idle footprint and cold start (default timings, loopback)\n",
    );
    const rows = await footprintBench(values.quick ? [3] : [3, 5, 25]);
    if (Deno.uid() === 0) rows.push(await resourceFootprintRow());
    console.log(rows.join("\n") + "\n");
  }
  if (only.includes("yaml")) {
    console.log("## YAML reader against npm yaml and js-yaml\n");
    console.log((await yamlBench(values.quick ? 3 : 15)).join("\n") + "\n");
  }
  if (only.includes("failover")) {
    console.log(
      `## Failover (3 nodes in network namespaces, ${runs} runs each)\n`,
    );
    console.log(
      (await failoverBench({ runs, quick: values.quick === true })).join("\n") +
        "\n",
    );
  }
  if (only.includes("vip")) {
    const vipRuns = Math.min(runs, 20);
    console.log(
      `## Client-visible outage through the VIP after kill -9 (clustd vip driver vs keepalived virtual_ipaddress, 100 ms, ${vipRuns} runs each)\n`,
    );
    console.log((await vipBench({ runs: vipRuns })).join("\n") + "\n");
  }
  if (only.includes("etcd_client")) {
    console.log("## etcd client (idle RSS and start-up)\n");
    console.log(
      (await etcdClientBench(values.quick ? 2 : 5)).join("\n") + "\n",
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
