/**
 * Holds the import lines of STYLE §2 around the own WebSocket and listener:
 * src/websocket/ is a protocol folder that imports nothing outside itself,
 * and src/http/ (probes and the listener) never imports the mesh.
 */
import assert from "node:assert/strict";

const SRC = new URL("../../src/", import.meta.url);

/** Import and export-from specifiers of every .ts file in `dir`. */
function specifiers(dir: string): { file: string; from: string }[] {
  const found: { file: string; from: string }[] = [];
  for (const entry of Deno.readDirSync(new URL(`${dir}/`, SRC))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const code = Deno.readTextFileSync(new URL(`${dir}/${entry.name}`, SRC));
    for (const match of code.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      found.push({ file: `${dir}/${entry.name}`, from: match[1]! });
    }
  }
  return found;
}

Deno.test("tidy: src/websocket/ imports nothing outside itself", () => {
  const imports = specifiers("websocket");
  assert.ok(imports.length > 0);
  for (const { file, from } of imports) {
    assert.ok(from.startsWith("./"), `${file} imports ${from}`);
  }
});

Deno.test("tidy: src/http/ never imports the mesh, the election or the daemon", () => {
  for (const { file, from } of specifiers("http")) {
    assert.ok(
      !/\.\.\/(mesh|election|daemon)\//.test(from),
      `${file} imports ${from}`,
    );
  }
});
