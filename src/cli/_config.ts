/**
 * Loading the config for a command: path resolution, validation, and printing
 * every warning and error to stderr. Returns the config or exit code 2; never
 * exits the process.
 */

import { formatIssue, loadConfig, resolveConfigPath } from "../config/load.ts";
import type { Config, ConfigIssue } from "../config/types.ts";
import { EXIT_USAGE } from "./_command.ts";

/** Prints issues: errors as they are, warnings prefixed `warning:`. */
export function printIssues(
  errors: readonly ConfigIssue[],
  warnings: readonly ConfigIssue[],
): void {
  for (const issue of warnings) console.error(`warning: ${formatIssue(issue)}`);
  for (const issue of errors) console.error(formatIssue(issue));
}

/**
 * Loads the config named by `--config` (or a positional FILE), else
 * `$CLUSTD_CONFIG`, else `./config.yml`. On errors prints them all and
 * returns exit code 2. `programs` also judges the scripts and check commands
 * on disk (check-config and run).
 */
export async function loadConfigOrReport(
  flag: string | undefined,
  options: { programs?: boolean } = {},
): Promise<Config | number> {
  const { path, source } = resolveConfigPath(flag);
  const result = await loadConfig(path, { source, ...options });
  if (!result.ok) {
    printIssues(result.errors, result.warnings);
    const count = result.errors.length;
    console.error(
      `error: ${path} has ${count} error${count === 1 ? "" : "s"}; fix ${
        count === 1 ? "it" : "them"
      } and run "clustd check-config ${path}" again`,
    );
    return EXIT_USAGE;
  }
  printIssues([], result.warnings);
  return result.config;
}
