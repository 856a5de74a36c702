/**
 * The one definition of how the daemon runs: the flags of deno.json's
 * `clustd` task (`deno run <flags> src/main.ts`). `deno task compile` bakes
 * the same flags into the binaries and the end-to-end tests start nodes with
 * them, so what is tested is what would be compiled.
 */

import denoJson from "../deno.json" with { type: "json" };

/** The entry point every runner uses. */
export const ENTRY = "src/main.ts";

/** Flags between `deno run` and the entry in the `clustd` task, e.g. `-P=clustd`. */
export function daemonFlags(task: string = denoJson.tasks.clustd): string[] {
  const words = task.trim().split(/\s+/);
  const start = words.indexOf("run");
  const end = words.indexOf(ENTRY);
  if (words[0] !== "deno" || start !== 1 || end <= start) {
    throw new Error(
      `deno.json task "clustd" must read "deno run <flags> ${ENTRY}", got "${task}"`,
    );
  }
  return words.slice(start + 1, end);
}
