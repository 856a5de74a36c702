/**
 * The etcd client choice, measured: src/etcd/ (fetch + the JSON gateway)
 * against the npm `etcd3` package (gRPC), each in its own `deno run` with the
 * daemon's V8 flags (_etcd_probe.ts): time to the first answer, and RSS
 * after idling with a live lease. One local etcd member; medians of N runs.
 *
 * Run: `deno run -A tests/bench/etcd_client_bench.ts [--runs N]`.
 */
import { runCommand } from "../_process.ts";
import { startEtcdCluster } from "../etcd/_etcd_cluster.ts";

const PROBE = new URL("./_etcd_probe.ts", import.meta.url).pathname;
const V8_FLAGS = "--v8-flags=--lite-mode,--max-semi-space-size=1";

interface Sample {
  startMs: number;
  rssBytes: number;
}

async function probe(kind: string, endpoint: string): Promise<Sample> {
  const result = await runCommand([
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    V8_FLAGS,
    PROBE,
    kind,
    endpoint,
  ]);
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  if (result.code !== 0 || !line.startsWith("{")) {
    throw new Error(`${kind} probe failed: ${result.stderr.slice(-500)}`);
  }
  return JSON.parse(line) as Sample;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Markdown rows comparing the two clients. */
export async function etcdClientBench(runs: number): Promise<string[]> {
  const etcd = await startEtcdCluster({ size: 1 });
  try {
    const endpoint = etcd.endpoints[0]!;
    const rows = [
      "| etcd client | runs | start to first answer (median) | idle RSS (median) |",
      "|---|---|---|---|",
    ];
    for (
      const [kind, name] of [["fetch", "src/etcd (fetch, JSON gateway)"], [
        "npm",
        "npm etcd3 1.1.2 (gRPC)",
      ]]
    ) {
      await probe(kind!, endpoint); // warm the module cache
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) samples.push(await probe(kind!, endpoint));
      rows.push(
        `| ${name} | ${runs} | ${median(samples.map((s) => s.startMs))} ms | ${
          (median(samples.map((s) => s.rssBytes)) / 2 ** 20).toFixed(1)
        } MiB |`,
      );
    }
    return rows;
  } finally {
    await etcd.stop();
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--runs");
  const runs = at >= 0 ? Number(Deno.args[at + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    console.error("Usage: etcd_client_bench.ts [--runs N (1..100)]");
    Deno.exit(2);
  }
  console.log((await etcdClientBench(runs)).join("\n"));
}
