/** `clustd switchover`: asks the master to hand over. Not wired yet. */

import { type Command, notAvailable, parseCommandArgs } from "./_command.ts";

/** The `switchover` command. */
export const switchoverCommand: Command = {
  name: "switchover",
  summary: "Hand the master role to another node",
  usage: `Usage: clustd switchover [--to ID] [--node URL]

Asks the master to stop renewing its lease, run its demote drivers and let
another node (ID, or the best-ranked backup) campaign at once.

Options:
  --to ID       The node that should become master
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { to: { type: "string" }, node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    return await Promise.resolve(notAvailable(this));
  },
};
