/**
 * `clustd reload`: asks the daemon to re-read its config file (as SIGHUP
 * does) and prints what changed, or every error; exit 0 or 1.
 */

import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import { printIssues } from "./_config.ts";
import { checkNodeFlag, controlRequest, daemonUrl } from "./_control.ts";

/** The `reload` command. */
export const reloadCommand: Command = {
  name: "reload",
  summary: "Make the daemon re-read its config and say what changed",
  usage: `Usage: clustd reload [--node URL]

Asks the daemon to re-read the config file it was started with (as SIGHUP
does) and prints what changed, or every error (nothing changes then).
Exit code 0 when applied, 1 when refused. The address and secret come from
--config; when that file has errors they are printed and the daemon is not
asked (it would read the same file).

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const node = stringFlag(parsed.values, "node");
    const bad = checkNodeFlag(node);
    if (bad !== null) return usageError(this, bad);
    const { path, source } = resolveConfigPath(
      stringFlag(parsed.values, "config"),
    );
    const loaded = await loadConfig(path, { source });
    if (!loaded.ok) {
      // The daemon would read the same errors: it is not asked, and keeps
      // running with its current config.
      console.error(
        `clustd: reload refused: ${path} has errors; the daemon keeps its running config`,
      );
      printIssues(loaded.errors, loaded.warnings);
      return EXIT_FAILURE;
    }
    const config = loaded.config;
    try {
      const answer = await controlRequest(
        daemonUrl(config, node),
        config.cluster.secret,
        { type: "reload" },
        "reload",
      );
      const message = String(answer["message"] ?? "");
      if (answer["ok"] === true) {
        console.log(message);
        return EXIT_OK;
      }
      console.error(`clustd: reload refused: ${message}`);
      const errors = Array.isArray(answer["errors"]) ? answer["errors"] : [];
      for (const error of errors) {
        if (String(error) !== message) console.error(`  ${String(error)}`);
      }
      return EXIT_FAILURE;
    } catch (error: unknown) {
      console.error(
        `clustd: ${error instanceof Error ? error.message : String(error)}`,
      );
      return EXIT_FAILURE;
    }
  },
};
