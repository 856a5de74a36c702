/**
 * One `clustd check-config FILE` run for yaml_bench.ts, with the YAML parser
 * under test loaded and run on FILE first: `ours` (nothing extra: the real
 * command, whose reader is src/yaml/), `yaml` (npm `yaml`, with a
 * LineCounter for positions, as the config errors would need) or `js-yaml`
 * (npm js-yaml, no positions). Prints one JSON line: peak RSS (VmHWM), CPU
 * time (all threads) and the command's exit code. Bench only.
 */

import { checkConfigCommand } from "../../src/cli/check_config.ts";

const [parser, file] = Deno.args;
if (file === undefined) throw new Error("usage: _yaml_entry.ts PARSER FILE");
const text = Deno.readTextFileSync(file);
if (parser === "yaml") {
  const { LineCounter, parseDocument } = await import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0 || doc.toJS() === null) throw new Error("bad");
} else if (parser === "js-yaml") {
  const { load } = await import("js-yaml");
  if (load(text) === null) throw new Error("bad");
} else if (parser !== "ours") {
  throw new Error(`unknown parser ${parser}`);
}
const code = await checkConfigCommand.run([file]);
const status = Deno.readTextFileSync("/proc/self/status");
const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "0");
// utime + stime in clock ticks (100 a second): CPU time, which the machine's
// load changes less than wall time.
const stat = Deno.readTextFileSync("/proc/self/stat");
const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
const cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
console.log(JSON.stringify({ parser, code, peakRssKb: hwmKb, cpuMs }));
