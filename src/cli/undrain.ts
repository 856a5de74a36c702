/** `clustd undrain`: Makes a drained node eligible to become master again. Not wired yet. */

import { type Command, notAvailable, parseCommandArgs } from "./_command.ts";

/** The `undrain` command. */
export const undrainCommand: Command = {
  name: "undrain",
  summary: "Make a drained node eligible again",
  usage: `Usage: clustd undrain [--node URL]

Makes a drained node eligible to become master again.

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    return await Promise.resolve(notAvailable(this));
  },
};
