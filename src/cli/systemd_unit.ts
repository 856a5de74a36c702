/** `clustd systemd-unit`: prints the systemd unit that runs the daemon. */

import {
  type Command,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
} from "./_command.ts";
import { INSTALL_PATHS, systemdUnit } from "./_systemd_unit.ts";

/** The `systemd-unit` command. */
export const systemdUnitCommand: Command = {
  name: "systemd-unit",
  summary: "Print a systemd unit that runs the daemon",
  usage: `Usage: clustd systemd-unit [--binary PATH] [--config FILE]

Prints a systemd service unit that runs "clustd run --config FILE"
(default ${INSTALL_PATHS.config}), restarts it on failure, hands over on stop
(SIGTERM) and logs to the journal. Install it as ${INSTALL_PATHS.unit}.

Options:
  --binary PATH   Path of the clustd binary (default: ${INSTALL_PATHS.binary})`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { binary: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const binary = stringFlag(parsed.values, "binary");
    const config = stringFlag(parsed.values, "config");
    console.log(
      systemdUnit({
        ...(binary === undefined ? {} : { binary }),
        ...(config === undefined ? {} : { config }),
      }).trimEnd(),
    );
    return await Promise.resolve(EXIT_OK);
  },
};
