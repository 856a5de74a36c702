/**
 * Durable election state (`term`, `votedFor`) in `state_dir/state.json`.
 * Every save is write-to-temp, fsync, rename, fsync of the directory, done
 * synchronously so the caller can send a vote only after it is on disk.
 * Must never silently reset: a corrupt or unreadable file is an error.
 */

import { TERM_MAX } from "../election/types.ts";

/** What survives a restart. */
export interface PersistentState {
  term: number;
  votedFor: string | null;
}

/** A state file that exists but cannot be trusted or read. */
export class StateError extends Error {
  override name = "StateError";
}

/** Name of the state file inside `state_dir`. */
export const STATE_FILE = "state.json";

function statePath(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/${STATE_FILE}`;
}

/** Parses the file's text; throws StateError naming the problem. */
export function parseState(text: string, path: string): PersistentState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (_error: unknown) {
    throw new StateError(
      `State file "${path}" is not valid JSON: it may be corrupt. ` +
        `Inspect it; remove it only if this node can safely forget its votes (see README).`,
    );
  }
  if (typeof value !== "object" || value === null) {
    throw new StateError(`State file "${path}" does not hold an object.`);
  }
  const record = value as Record<string, unknown>;
  const term = record["term"];
  const votedFor = record["voted_for"];
  if (typeof term !== "number" || !Number.isSafeInteger(term) || term < 0) {
    throw new StateError(
      `State file "${path}": "term" must be a non-negative integer, found ${
        JSON.stringify(term)
      }.`,
    );
  }
  if (term > TERM_MAX) {
    // Refuse rather than reset: forgetting the vote silently could let this
    // node vote twice in one term. The operator decides (see README).
    throw new StateError(
      `State file "${path}": "term" ${term} is above the ceiling ${TERM_MAX} (2^40), ` +
        `so no election could follow it; it was written before clustd refused such terms. ` +
        `Stop clustd, remove the file (this node then learns the term from its peers), and start it again.`,
    );
  }
  if (votedFor !== null && typeof votedFor !== "string") {
    throw new StateError(
      `State file "${path}": "voted_for" must be a string or null, found ${
        JSON.stringify(votedFor)
      }.`,
    );
  }
  return { term, votedFor };
}

/** Reads the state; `null` when the directory holds none (a fresh node). */
export function loadState(dir: string): PersistentState | null {
  const path = statePath(dir);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return null;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StateError(`Cannot read state file "${path}": ${reason}`);
  }
  return parseState(text, path);
}

/** Creates `dir` (mode 0700) when missing; throws StateError when impossible. */
export function ensureStateDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StateError(`Cannot create state_dir "${dir}": ${reason}`);
  }
}

const encoder = new TextEncoder();

/** Makes `state` durable before returning (write, fsync, rename, fsync dir). */
export function saveState(dir: string, state: PersistentState): void {
  const path = statePath(dir);
  const temp = `${path}.tmp`;
  const body = JSON.stringify({ term: state.term, voted_for: state.votedFor }) +
    "\n";
  const file = Deno.openSync(temp, {
    write: true,
    create: true,
    truncate: true,
    mode: 0o600,
  });
  try {
    const bytes = encoder.encode(body);
    let written = 0;
    while (written < bytes.length) {
      written += file.writeSync(bytes.subarray(written));
    }
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.renameSync(temp, path);
  const directory = Deno.openSync(dir, { read: true });
  try {
    directory.syncSync();
  } finally {
    directory.close();
  }
}
