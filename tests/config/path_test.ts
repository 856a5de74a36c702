/** dirname(), joinPath(), normalizePath() and resolvePath(): what node:path gives (trailing separators aside), without node:path. */

import assert from "node:assert/strict";
import {
  dirname,
  joinPath,
  normalizePath,
  resolvePath,
} from "../../src/config/path.ts";

Deno.test("normalizePath() removes dot segments and repeated separators", () => {
  const cases: [string, string][] = [
    ["/a/./b/../c//d/", "/a/c/d"],
    ["/../x", "/x"],
    ["a/../../b", "../b"],
    ["./", "."],
    ["", "."],
    ["C:\\a\\.\\b\\..\\c", "C:\\a\\c"],
    ["C:/a/b", "C:\\a\\b"],
    ["\\\\server\\share\\x\\..\\y", "\\\\server\\share\\y"],
  ];
  for (const [path, expected] of cases) {
    assert.equal(normalizePath(path), expected, path);
  }
});

Deno.test("dirname() gives the directory of a file, keeping the root", () => {
  const cases: [string, string][] = [
    ["/etc/clustd/config.yml", "/etc/clustd"],
    ["/config.yml", "/"],
    ["config.yml", "."],
    ["conf/config.yml", "conf"],
    ["C:\\clustd\\config.yml", "C:\\clustd"],
    ["C:\\config.yml", "C:\\"],
  ];
  for (const [path, expected] of cases) {
    assert.equal(dirname(path), expected, path);
  }
});

Deno.test("joinPath() joins relative paths and keeps absolute ones", () => {
  assert.equal(joinPath("/etc/clustd", "secret"), "/etc/clustd/secret");
  assert.equal(
    joinPath("/etc/clustd", "./keys/../secret"),
    "/etc/clustd/secret",
  );
  assert.equal(joinPath("/etc/clustd", "/var/lib/x"), "/var/lib/x");
  assert.equal(joinPath("C:\\clustd", "secret"), "C:\\clustd\\secret");
  assert.equal(joinPath("/etc/clustd", "D:\\x"), "D:\\x");
});

Deno.test("resolvePath() makes a path absolute against the working directory", () => {
  const cwd = Deno.cwd();
  assert.equal(resolvePath("config.yml"), joinPath(cwd, "config.yml"));
  assert.equal(resolvePath("/x/../y.yml"), "/y.yml");
  assert.ok(resolvePath(".").length > 0);
});
