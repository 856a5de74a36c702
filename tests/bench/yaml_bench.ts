/**
 * What clustd's own YAML reader saves per CLI call: `clustd check-config` on
 * config.example.yml (programs and secrets swapped for temp files), run as a
 * fresh process with the clustd task's V8 flags, as is (`ours`) and with npm
 * `yaml` or js-yaml loaded and run on the same file first. Reports median
 * wall time (spawn to exit), CPU time and peak RSS (VmHWM) over `runs`
 * interleaved rounds, and the difference to `ours`: the cost the library
 * would add to every call.
 */

import { daemonFlags } from "../../tools/flags.ts";
import { ROOT } from "../_process.ts";

const PARSERS = ["ours", "yaml", "js-yaml"] as const;

/** config.example.yml made valid on this machine, in `dir`. */
function exampleConfig(dir: string): string {
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
  Deno.writeTextFileSync(`${dir}/secret`, key, { mode: 0o600 });
  Deno.writeTextFileSync(`${dir}/token`, key, { mode: 0o600 });
  let text = Deno.readTextFileSync(`${ROOT}config.example.yml`)
    .replace("secret_file: /etc/clustd/secret", `secret_file: ${dir}/secret`)
    .replace(
      "driver_token_file: /etc/clustd/driver-token",
      `driver_token_file: ${dir}/token`,
    );
  for (
    const program of [
      "/etc/clustd/promote.sh",
      "/etc/clustd/demote.sh",
      "/etc/clustd/pre-promote.sh",
      "/usr/local/bin/check-nginx",
    ]
  ) {
    const copy = `${dir}/${program.split("/").pop()}`;
    Deno.writeTextFileSync(copy, "#!/bin/sh\n");
    Deno.chmodSync(copy, 0o755);
    text = text.replace(program, copy);
  }
  Deno.writeTextFileSync(`${dir}/config.yml`, text);
  return `${dir}/config.yml`;
}

async function once(
  parser: string,
  file: string,
): Promise<{ ms: number; cpuMs: number; peakMb: number }> {
  // The clustd task's V8 flags; -A only so the entry may read /proc/self.
  const v8 = daemonFlags().filter((flag) => flag.startsWith("--v8-flags"));
  const startedMs = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-A",
      ...v8,
      `${ROOT}tests/bench/_yaml_entry.ts`,
      parser,
      file,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - startedMs;
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const result = JSON.parse(lines.at(-1) ?? "{}") as {
    code?: number;
    peakRssKb?: number;
    cpuMs?: number;
  };
  if (!output.success || result.code !== 0) {
    throw new Error(
      `${parser}: ${new TextDecoder().decode(output.stderr)}${
        lines.join("\n")
      }`,
    );
  }
  return {
    ms,
    cpuMs: result.cpuMs ?? NaN,
    peakMb: (result.peakRssKb ?? 0) / 1024,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

/** Markdown lines: one row per parser, `runs` interleaved runs each. */
export async function yamlBench(runs: number): Promise<string[]> {
  const dir = Deno.makeTempDirSync({ prefix: "clustd-yaml-bench-" });
  try {
    const file = exampleConfig(dir);
    const samples = new Map<
      string,
      { ms: number[]; cpu: number[]; mb: number[] }
    >();
    for (const parser of PARSERS) {
      samples.set(parser, { ms: [], cpu: [], mb: [] });
    }
    // One warm-up each (module cache), then interleaved rounds.
    for (const parser of PARSERS) await once(parser, file);
    for (let round = 0; round < runs; round++) {
      for (const parser of PARSERS) {
        const { ms, cpuMs, peakMb } = await once(parser, file);
        samples.get(parser)?.ms.push(ms);
        samples.get(parser)?.cpu.push(cpuMs);
        samples.get(parser)?.mb.push(peakMb);
      }
    }
    const base = samples.get("ours")!;
    const baseMs = median(base.ms);
    const baseCpu = median(base.cpu);
    const baseMb = median(base.mb);
    const rows = [
      `\`clustd check-config config.example.yml\`, ${runs} runs each, medians:`,
      "",
      "| parser loaded | wall ms | CPU ms | peak RSS MB | added wall ms | added CPU ms | added MB |",
      "| ------------- | ------- | ------ | ----------- | ------------- | ------------ | -------- |",
    ];
    for (const parser of PARSERS) {
      const { ms, cpu, mb } = samples.get(parser)!;
      const t = median(ms);
      const c = median(cpu);
      const m = median(mb);
      rows.push(
        `| ${parser} | ${t.toFixed(0)} | ${c.toFixed(0)} | ${m.toFixed(1)} | ${
          (t - baseMs).toFixed(0)
        } | ${(c - baseCpu).toFixed(0)} | ${(m - baseMb).toFixed(1)} |`,
      );
    }
    return rows;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log((await yamlBench(Number(Deno.args[0] ?? "10"))).join("\n"));
}
