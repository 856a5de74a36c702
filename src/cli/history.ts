/**
 * `clustd history`: every role transition (time, term, node, from, to,
 * reason) of every member, from each member's log in its state_dir,
 * gathered through one daemon and merged by time.
 */

import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";
import { checkNodeFlag, daemonUrl } from "./_control.ts";
import { gatherHistory, historyTable } from "./_cluster_view.ts";
import { ControlSession } from "./_session.ts";

/** The `history` command. */
export const historyCommand: Command = {
  name: "history",
  summary: "List every member's role transitions, oldest first",
  usage: `Usage: clustd history [--json] [--node URL]

Prints every role transition (time, term, node, from, to, reason) that the
members keep in their state_dir (the newest ~450 each), merged by time. A
member that cannot be asked is named at the end; the rest still print.

Options:
  --json        Print the transitions as JSON
  --node URL    Ask through the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { json: { type: "boolean" }, node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const node = stringFlag(parsed.values, "node");
    const bad = checkNodeFlag(node);
    if (bad !== null) return usageError(this, bad);
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    try {
      const session = await ControlSession.open(
        daemonUrl(config, node),
        config.cluster.secret,
      );
      try {
        const history = await gatherHistory(session);
        if (parsed.values["json"] === true) {
          console.log(JSON.stringify(history, null, 2));
        } else {
          console.log(historyTable(history.entries));
          if (history.unreachable.length > 0) {
            console.log(`\nnot asked: ${history.unreachable.join(", ")}`);
          }
        }
      } finally {
        await session.close();
      }
      return EXIT_OK;
    } catch (error: unknown) {
      console.error(
        `clustd: ${error instanceof Error ? error.message : String(error)}`,
      );
      return EXIT_FAILURE;
    }
  },
};
