/** `clustd switchover`: asks the master to hand over (planned failover). */

import {
  type Command,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { checkNodeFlag, runControlCommand } from "./_control.ts";

/** The `switchover` command. */
export const switchoverCommand: Command = {
  name: "switchover",
  summary: "Hand mastership over to another node (planned failover)",
  usage: `Usage: clustd switchover [--to ID] [--node URL]

Asks the master to hand over: it runs its demote drivers, then tells the
target (--to ID, else the best eligible backup) to take over at once. Works
on any member: the daemon asked forwards it to the master. Refused, with the
reason, when there is no quorum, no master, or the target is unknown, a
witness, priority 0, the master already, or ineligible (and why).

Options:
  --to ID       The node that should become master
  --node URL    Talk to the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { to: { type: "string" }, node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const bad = checkNodeFlag(stringFlag(parsed.values, "node"));
    if (bad !== null) return usageError(this, bad);
    const to = stringFlag(parsed.values, "to");
    return await runControlCommand(
      parsed.values,
      to === undefined ? { type: "switchover" } : { type: "switchover", to },
    );
  },
};
