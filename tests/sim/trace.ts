/**
 * A bounded ring of recent simulator events, formatted only when a checker
 * reports a violation, so 100 000 schedules run in constant memory.
 */

/** Lines kept per schedule for violation reports. */
export const TRACE_LINES_MAX = 60;

interface TraceEntry {
  atMs: number;
  node: string;
  what: string;
  detail: unknown;
}

/** Ring buffer of the last TRACE_LINES_MAX events. */
export class Trace {
  #ring: (TraceEntry | undefined)[] = new Array(TRACE_LINES_MAX);
  #next = 0;

  /** Records an event; `detail` is formatted lazily. */
  add(atMs: number, node: string, what: string, detail: unknown = ""): void {
    this.#ring[this.#next % TRACE_LINES_MAX] = { atMs, node, what, detail };
    this.#next++;
  }

  /** Oldest-first readable lines. */
  lines(): string[] {
    const out: string[] = [];
    const first = Math.max(0, this.#next - TRACE_LINES_MAX);
    for (let i = first; i < this.#next; i++) {
      const entry = this.#ring[i % TRACE_LINES_MAX];
      if (entry === undefined) continue;
      const detail = typeof entry.detail === "string"
        ? entry.detail
        : JSON.stringify(entry.detail);
      out.push(
        `  ${entry.atMs.toFixed(3).padStart(10)}ms ${
          entry.node.padEnd(3)
        } ${entry.what} ${detail}`,
      );
    }
    return out;
  }
}
