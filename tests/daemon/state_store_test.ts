import assert from "node:assert/strict";
import {
  loadState,
  saveState,
  StateError,
} from "../../src/daemon/state_store.ts";

Deno.test("saveState round-trips through loadState", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(loadState(dir), null);
    saveState(dir, { term: 7, votedFor: "n2" });
    assert.deepEqual(loadState(dir), { term: 7, votedFor: "n2" });
    saveState(dir, { term: 8, votedFor: null });
    assert.deepEqual(loadState(dir), { term: 8, votedFor: null });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadState refuses a corrupt file instead of resetting", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const bad = [
      "{",
      '{"term": -1, "voted_for": null}',
      '{"term": 1, "voted_for": 5}',
      "[]",
    ];
    for (const text of bad) {
      Deno.writeTextFileSync(`${dir}/state.json`, text);
      assert.throws(() => loadState(dir), (error: unknown) => {
        assert.ok(error instanceof StateError);
        assert.match(error.message, /state\.json/);
        return true;
      }, text);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadState refuses a term above TERM_MAX, naming the ceiling and the fix", () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const term of [2 ** 40 + 1, Number.MAX_SAFE_INTEGER]) {
      Deno.writeTextFileSync(
        `${dir}/state.json`,
        JSON.stringify({ term, voted_for: null }),
      );
      assert.throws(() => loadState(dir), (error: unknown) => {
        assert.ok(error instanceof StateError);
        assert.match(error.message, /above the ceiling .*remove the file/);
        return true;
      }, String(term));
    }
    saveState(dir, { term: 2 ** 40, votedFor: null });
    assert.deepEqual(loadState(dir), { term: 2 ** 40, votedFor: null });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
