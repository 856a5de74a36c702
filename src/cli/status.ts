/** `clustd status`: asks a daemon for its view of the cluster. Not wired yet. */

import { type Command, notAvailable, parseCommandArgs } from "./_command.ts";

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "Show the cluster as a daemon sees it",
  usage: `Usage: clustd status [--json] [--node URL]

Shows the role, term, master and members as the local daemon (address and
credentials from --config) or the daemon at --node URL sees them.

Options:
  --json        Print the status as JSON
  --node URL    Ask the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { json: { type: "boolean" }, node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    return await Promise.resolve(notAvailable(this));
  },
};
