/**
 * `clustd check-config [FILE]`: validates a config without starting anything
 * and reports every error with its key path and line. Never contacts peers.
 */

import {
  type Command,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";

/** The `check-config` command. */
export const checkConfigCommand: Command = {
  name: "check-config",
  summary: "Validate a config file and print every error",
  usage: `Usage: clustd check-config [FILE]

Validates FILE (default: --config, else $CLUSTD_CONFIG, else ./config.yml),
including the secret files it names and the scripts and check commands (they
must exist and be executable by this user; as root also be owned by root and
writable only by their owner), and prints every error with its key path and
line. Exit code 0 when valid (warnings are printed), 2 otherwise.`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, { positionalsMax: 1 });
    if (typeof parsed === "number") return parsed;
    const file = parsed.positionals[0] ?? stringFlag(parsed.values, "config");
    const config = await loadConfigOrReport(file, { programs: true });
    if (typeof config === "number") return config;
    const members = config.cluster.peers.length + 1;
    console.log(
      `${
        file ?? config.path
      }: valid (node "${config.node.id}", ${config.node.role}, ${members} member${
        members === 1 ? "" : "s"
      }, heartbeat ${config.cluster.heartbeatMs} ms, election timeout ${config.cluster.electionTimeoutMs} ms)`,
    );
    return EXIT_OK;
  },
};
