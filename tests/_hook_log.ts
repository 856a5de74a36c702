/**
 * The hook log every test cluster keeps: each node's promote/demote hook
 * appends `<ms epoch> <node> <event> <term> <master> <reason>` to one shared
 * file (master is empty when none is known), the
 * record an operator could keep outside clustd. Owns the hook script's text
 * and the parser; never reads anything but the text it is given.
 */

/** The hook line clustd's bash driver writes, from the hook environment. */
export const CLUSTD_HOOK_LINE =
  "$(date +%s%3N) $CLUSTD_NODE_ID $CLUSTD_EVENT $CLUSTD_TERM $CLUSTD_MASTER_ID $CLUSTD_REASON";

/** One promote or demote line of the hook log. */
export interface HookLine {
  atMs: number;
  node: string;
  event: "promote" | "demote";
  term: number;
  master: string;
  /** CLUSTD_REASON (`start`, `elected`, ...); empty on lines without one. */
  reason: string;
}

/** Options of `writeHookScript()`. */
export interface HookScriptOptions {
  /** The line to append (shell words); default CLUSTD_HOOK_LINE. */
  line?: string;
  /** Shell lines run after logging (e.g. `sleep 1`). */
  extra?: string;
}

/** Writes an executable `/bin/sh` script at `path` that appends one line to `hookLogPath`. */
export function writeHookScript(
  path: string,
  hookLogPath: string,
  options: HookScriptOptions = {},
): void {
  const extra = options.extra === undefined ? "" : `${options.extra}\n`;
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh\necho "${
      options.line ?? CLUSTD_HOOK_LINE
    }" >> ${hookLogPath}\n${extra}`,
    { mode: 0o755 },
  );
}

/** Parses the hook log; malformed lines (a torn write) and other events are skipped. */
export function parseHookLog(text: string): HookLine[] {
  const lines: HookLine[] = [];
  for (const raw of text.split("\n")) {
    const [at, node, event, term, master, reason] = raw.trim().split(" ");
    if (!/^\d+$/.test(at ?? "") || node === undefined) continue;
    if (event !== "promote" && event !== "demote") continue;
    lines.push({
      atMs: Number(at),
      node,
      event,
      term: Number(term ?? 0),
      master: master ?? "",
      reason: reason ?? "",
    });
  }
  return lines;
}
