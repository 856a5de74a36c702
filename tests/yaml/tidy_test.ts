/**
 * Holds the lines of src/yaml/: a format reader of its own that imports
 * nothing outside its folder (no config knowledge, no Deno I/O) and whose
 * files import each other without a cycle.
 */
import assert from "node:assert/strict";

const YAML_DIR = new URL("../../src/yaml/", import.meta.url);

const IMPORT_PATTERN =
  /(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']/g;

/** File name -> the files of src/yaml/ it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const entry of Deno.readDirSync(YAML_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const code = Deno.readTextFileSync(new URL(entry.name, YAML_DIR));
    const targets: string[] = [];
    for (const match of code.matchAll(IMPORT_PATTERN)) {
      const specifier = match[1] ?? match[2] ?? "";
      assert.match(
        specifier,
        /^\.\/[a-z_]+\.ts$/,
        `src/yaml/${entry.name} imports "${specifier}" from outside src/yaml/`,
      );
      targets.push(specifier.slice(2));
    }
    graph.set(entry.name, targets);
  }
  return graph;
}

/** A cycle as a list of files, or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const visit = (file: string, trail: string[]): string[] | null => {
    if (state.get(file) === "done") return null;
    if (state.get(file) === "open") return [...trail, file];
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next, [...trail, file]);
      if (cycle !== null) return cycle;
    }
    state.set(file, "done");
    return null;
  };
  for (const file of [...graph.keys()].sort()) {
    const cycle = visit(file, []);
    if (cycle !== null) return cycle;
  }
  return null;
}

Deno.test("tidy: src/yaml/ imports nothing outside itself and has no import cycle", () => {
  const graph = importGraph();
  assert.ok(graph.size >= 6, "yaml files found");
  assert.equal(findCycle(graph)?.join(" -> ") ?? null, null);
  for (const [file] of graph) {
    const code = Deno.readTextFileSync(new URL(file, YAML_DIR));
    assert.ok(!/\bDeno\./.test(code), `src/yaml/${file} uses Deno.`);
  }
});

Deno.test("tidy: findCycle() finds a cycle and accepts a chain", () => {
  assert.deepEqual(
    findCycle(new Map([["a", ["b"]], ["b", ["a"]]])),
    ["a", "b", "a"],
  );
  assert.equal(findCycle(new Map([["a", ["b"]], ["b", []]])), null);
});
