/**
 * `clustd run`: the daemon. For now it validates the config (exit 2 with every
 * error) and stops; the daemon wiring replaces the body of `run`.
 */

import {
  type Command,
  EXIT_FAILURE,
  parseCommandArgs,
  stringFlag,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "Run the daemon",
  usage: `Usage: clustd run

Runs the clustd daemon with the config from --config, $CLUSTD_CONFIG or
./config.yml. Refuses to start (exit 2) when the config has errors.`,
  async run(args) {
    const parsed = parseCommandArgs(this, args);
    if (typeof parsed === "number") return parsed;
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    console.error("clustd: the daemon is not wired yet");
    return EXIT_FAILURE;
  },
};
