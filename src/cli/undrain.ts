/** `clustd undrain`: Makes a drained node eligible to become master again. */

import {
  type Command,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { checkNodeFlag, runControlCommand } from "./_control.ts";

/** The `undrain` command. */
export const undrainCommand: Command = {
  name: "undrain",
  summary: "Make this node eligible again",
  usage: `Usage: clustd undrain [--node URL]

Makes a drained node eligible to become master again.

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const bad = checkNodeFlag(stringFlag(parsed.values, "node"));
    if (bad !== null) return usageError(this, bad);
    return await runControlCommand(parsed.values, { type: "undrain" });
  },
};
