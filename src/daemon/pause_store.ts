/**
 * The cluster's maintenance flag as this node knows it, persisted in
 * state_dir (`pause.json`, write + fsync + rename) so a pause survives a
 * restart of every node. Replicated by the operator relay: the version with
 * the higher (seq, by) wins everywhere, so concurrent pause/resume settle
 * on one value. Decides nothing about elections: the core obeys the flag.
 */

/** Name of the pause file inside `state_dir`. */
export const PAUSE_FILE = "pause.json";

/** One version of the flag. */
export interface PauseState {
  paused: boolean;
  /** Grows with every pause/resume anywhere in the cluster. */
  seq: number;
  /** Node where the operator issued it. */
  by: string;
  /** Wall-clock time it was issued, ISO 8601 (for people). */
  time: string;
}

/** The state of a cluster that was never paused. */
export const NEVER_PAUSED: PauseState = {
  paused: false,
  seq: 0,
  by: "",
  time: "",
};

/** Validates a pause state from a file or a peer; null when malformed. */
export function parsePauseState(value: unknown): PauseState | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const seq = r["seq"];
  if (typeof r["paused"] !== "boolean") return null;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
    return null;
  }
  if (typeof r["by"] !== "string" || typeof r["time"] !== "string") return null;
  return {
    paused: r["paused"],
    seq,
    by: r["by"],
    time: r["time"],
  };
}

/** True when `a` is a newer version than `b` (seq, then origin id). */
export function newerPause(a: PauseState, b: PauseState): boolean {
  return a.seq > b.seq || (a.seq === b.seq && a.by > b.by);
}

function pausePath(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/${PAUSE_FILE}`;
}

/** Reads the flag; NEVER_PAUSED when absent. Throws with the path when corrupt. */
export function loadPause(dir: string): PauseState {
  const path = pausePath(dir);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return NEVER_PAUSED;
    throw error;
  }
  let parsed: PauseState | null = null;
  try {
    parsed = parsePauseState(JSON.parse(text));
  } catch (_error: unknown) {
    parsed = null;
  }
  if (parsed === null) {
    throw new Error(
      `Pause file "${path}" is corrupt: remove it and run \`clustd pause\` or \`clustd resume\` again`,
    );
  }
  return parsed;
}

/** Makes `state` durable (write, fsync, rename). */
export function savePause(dir: string, state: PauseState): void {
  const path = pausePath(dir);
  const temp = `${path}.tmp`;
  const file = Deno.openSync(temp, {
    write: true,
    create: true,
    truncate: true,
    mode: 0o600,
  });
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(state) + "\n");
    let written = 0;
    while (written < bytes.length) {
      written += file.writeSync(bytes.subarray(written));
    }
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.renameSync(temp, path);
}
