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
