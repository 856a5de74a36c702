/**
 * The node's role history: every transition of the local node (time, term,
 * node, from, to, reason) appended as one JSON line to `history.jsonl` in
 * state_dir, so `clustd history` and `GET /history` answer "who was master
 * when, and why" also after a restart. Bounded: memory keeps the last
 * HISTORY_ENTRIES_MAX entries and the file is rewritten to them once it holds
 * twice as many. Lines are not fsynced (a lost last line after a power cut
 * costs history, never safety); a line that cannot be parsed is skipped.
 */

import { Logger } from "../log.ts";

/** Entries kept in memory and after compaction. */
export const HISTORY_ENTRIES_MAX = 500;

/**
 * Most bytes of history one answer carries (newest entries first to go in),
 * well inside the 64 KiB message limit of the mesh and control channels.
 */
export const HISTORY_WIRE_BYTES_MAX = 48 * 1024;

/** Name of the history file inside `state_dir`. */
export const HISTORY_FILE = "history.jsonl";

/** One role transition of one node (wire and file form). */
export interface Transition {
  /** Wall-clock time, ISO 8601 (for people; decisions use monotonic time). */
  time: string;
  term: number;
  node: string;
  from: string;
  to: string;
  reason: string;
}

/** Validates one parsed line; null when it is not a transition. */
export function parseTransition(value: unknown): Transition | null {
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const texts = [r["time"], r["node"], r["from"], r["to"], r["reason"]];
  if (texts.some((t) => typeof t !== "string")) return null;
  if (typeof r["term"] !== "number" || !Number.isSafeInteger(r["term"])) {
    return null;
  }
  return {
    time: r["time"] as string,
    term: r["term"],
    node: r["node"] as string,
    from: r["from"] as string,
    to: r["to"] as string,
    reason: r["reason"] as string,
  };
}

/** The bounded, persisted transition log of one node. */
export class HistoryLog {
  readonly #path: string;
  readonly #log = new Logger("history");
  #entries: Transition[] = [];
  #linesInFile = 0;

  constructor(stateDir: string) {
    this.#path = `${stateDir.replace(/\/+$/, "")}/${HISTORY_FILE}`;
    this.#load();
  }

  #load(): void {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#path);
    } catch (error: unknown) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#log.warn("cannot read the history, starting it afresh", {
          path: this.#path,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return;
    }
    const lines = text.split("\n").filter((line) => line.trim() !== "");
    let skipped = 0;
    for (const line of lines) {
      let parsed: Transition | null = null;
      try {
        parsed = parseTransition(JSON.parse(line));
      } catch (_error: unknown) {
        parsed = null;
      }
      if (parsed === null) skipped++;
      else this.#entries.push(parsed);
    }
    if (skipped > 0) {
      this.#log.warn("skipped unreadable history lines", {
        path: this.#path,
        skipped,
      });
    }
    this.#entries = this.#entries.slice(-HISTORY_ENTRIES_MAX);
    this.#linesInFile = lines.length;
  }

  /** Appends one transition (memory and file); never throws. */
  record(entry: Transition): void {
    this.#entries.push(entry);
    if (this.#entries.length > HISTORY_ENTRIES_MAX) this.#entries.shift();
    try {
      if (this.#linesInFile + 1 > 2 * HISTORY_ENTRIES_MAX) {
        this.#rewrite();
      } else {
        Deno.writeTextFileSync(this.#path, JSON.stringify(entry) + "\n", {
          append: true,
          mode: 0o600,
        });
        this.#linesInFile++;
      }
    } catch (error: unknown) {
      this.#log.warn("cannot write the history", {
        path: this.#path,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Compaction: the file becomes the entries in memory (write, rename). */
  #rewrite(): void {
    const temp = `${this.#path}.tmp`;
    const body = this.#entries.map((e) => JSON.stringify(e) + "\n").join("");
    Deno.writeTextFileSync(temp, body, { mode: 0o600 });
    Deno.renameSync(temp, this.#path);
    this.#linesInFile = this.#entries.length;
  }

  /** Transitions, oldest first. */
  entries(): Transition[] {
    return [...this.#entries];
  }

  /** The newest transitions that fit one message (HISTORY_WIRE_BYTES_MAX), oldest first. */
  wireEntries(): Transition[] {
    const out: Transition[] = [];
    let bytes = 0;
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i]!;
      bytes += JSON.stringify(entry).length + 1;
      if (bytes > HISTORY_WIRE_BYTES_MAX) break;
      out.push(entry);
    }
    return out.reverse();
  }
}
