/** `clustd drain`: Marks the node ineligible to become master; a master hands over first. */

import {
  type Command,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { checkNodeFlag, runControlCommand } from "./_control.ts";

/** The `drain` command. */
export const drainCommand: Command = {
  name: "drain",
  summary: "Make this node ineligible (hands over if master)",
  usage: `Usage: clustd drain [--node URL]

Marks the node ineligible to become master; a master hands over first.

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const bad = checkNodeFlag(stringFlag(parsed.values, "node"));
    if (bad !== null) return usageError(this, bad);
    return await runControlCommand(parsed.values, { type: "drain" });
  },
};
