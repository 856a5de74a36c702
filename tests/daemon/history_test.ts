import assert from "node:assert/strict";
import {
  HISTORY_ENTRIES_MAX,
  HISTORY_FILE,
  HISTORY_WIRE_BYTES_MAX,
  HistoryLog,
} from "../../src/daemon/history.ts";
import {
  loadPause,
  NEVER_PAUSED,
  newerPause,
  savePause,
} from "../../src/daemon/pause_store.ts";
import { PauseSync } from "../../src/daemon/_pause_sync.ts";

function entry(term: number) {
  return {
    time: new Date(1_700_000_000_000 + term).toISOString(),
    term,
    node: "n1",
    from: "backup",
    to: "master",
    reason: "elected",
  };
}

Deno.test("HistoryLog keeps transitions across a restart and skips unreadable lines", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const log = new HistoryLog(dir);
    log.record(entry(1));
    log.record(entry(2));
    Deno.writeTextFileSync(`${dir}/${HISTORY_FILE}`, "{not json\n", {
      append: true,
    });
    const again = new HistoryLog(dir);
    assert.deepEqual(again.entries().map((e) => e.term), [1, 2]);
    again.record(entry(3));
    assert.deepEqual(new HistoryLog(dir).entries().map((e) => e.term), [
      1,
      2,
      3,
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("HistoryLog is bounded in memory and on disk", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const log = new HistoryLog(dir);
    const total = 2 * HISTORY_ENTRIES_MAX + 10;
    for (let term = 1; term <= total; term++) log.record(entry(term));
    const entries = log.entries();
    assert.equal(entries.length, HISTORY_ENTRIES_MAX);
    assert.equal(entries.at(-1)?.term, total);
    const lines = Deno.readTextFileSync(`${dir}/${HISTORY_FILE}`).trim()
      .split("\n");
    assert.ok(lines.length <= 2 * HISTORY_ENTRIES_MAX, `${lines.length} lines`);
    assert.equal(new HistoryLog(dir).entries().at(-1)?.term, total);
    // What one answer carries fits a message and ends with the newest.
    const wire = log.wireEntries();
    assert.ok(JSON.stringify(wire).length <= HISTORY_WIRE_BYTES_MAX + 2);
    assert.equal(wire.at(-1)?.term, total);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pause state: saved durably, newest (seq, by) wins, corrupt file named", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.deepEqual(loadPause(dir), NEVER_PAUSED);
    const state = { paused: true, seq: 3, by: "n2", time: "t" };
    savePause(dir, state);
    assert.deepEqual(loadPause(dir), state);
    assert.ok(newerPause({ ...state, seq: 4 }, state));
    assert.ok(newerPause({ ...state, by: "n3" }, state));
    assert.ok(!newerPause(state, { ...state, seq: 4 }));
    Deno.writeTextFileSync(`${dir}/pause.json`, "{");
    assert.throws(() => loadPause(dir), /pause\.json" is corrupt/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("PauseSync: a pause reaches connected peers, a late peer learns it on connect, concurrent versions converge", () => {
  const dirs = ["a", "b", "c"].map(() => Deno.makeTempDirSync());
  const connected = new Set(["a-b", "b-a"]);
  const applied = new Map<string, boolean>();
  const nodes = new Map<string, PauseSync>();
  const ids = ["a", "b", "c"];
  ids.forEach((id, i) => {
    nodes.set(
      id,
      new PauseSync({
        selfId: () => id,
        stateDir: dirs[i]!,
        peers: () => ids.filter((p) => p !== id),
        send: (peer, state) => {
          if (!connected.has(`${id}-${peer}`)) return false;
          nodes.get(peer)!.onPeer(id, state);
          return true;
        },
        apply: (paused) => applied.set(id, paused),
      }),
    );
  });
  try {
    const answer = nodes.get("a")!.set(true);
    assert.match(answer.message, /paused the cluster.*told b; c not connected/);
    assert.equal(applied.get("b"), true);
    assert.equal(applied.get("c"), undefined);
    connected.add("a-c").add("c-a").add("b-c").add("c-b");
    nodes.get("a")!.onPeerUp("c");
    assert.equal(nodes.get("c")!.paused(), true);
    // Restart: the flag comes back from state_dir.
    const restarted = new PauseSync({
      selfId: () => "c",
      stateDir: dirs[2]!,
      peers: () => [],
      send: () => false,
      apply: () => {},
    });
    assert.equal(restarted.paused(), true);
    nodes.get("b")!.set(false);
    for (const id of ids) assert.equal(nodes.get(id)!.paused(), false, id);
  } finally {
    for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
  }
});
