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
import { loadConfigOrReport } from "./_config.ts";
import { checkNodeFlag, controlRequest, daemonUrl } from "./_control.ts";

/** The `reload` command. */
export const reloadCommand: Command = {
  name: "reload",
  summary: "Make the daemon re-read its config and say what changed",
  usage: `Usage: clustd reload [--node URL]

Asks the daemon to re-read the config file it was started with (as SIGHUP
does) and prints what changed, or every error (nothing changes then).
Exit code 0 when applied, 1 when refused.

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
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
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
