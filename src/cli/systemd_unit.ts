/** `clustd systemd-unit`: prints a systemd unit for the daemon. Not wired yet. */

import { type Command, notAvailable, parseCommandArgs } from "./_command.ts";

/** The `systemd-unit` command. */
export const systemdUnitCommand: Command = {
  name: "systemd-unit",
  summary: "Print a systemd unit that runs the daemon",
  usage: `Usage: clustd systemd-unit [--binary PATH]

Prints a systemd service unit that runs "clustd run" with the config from
--config, restarts it on failure, and logs to the journal.

Options:
  --binary PATH   Path of the clustd binary (default: /usr/local/bin/clustd)`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { binary: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    return await Promise.resolve(notAvailable(this));
  },
};
