/**
 * `clustd pause` / `clustd resume`: cluster-wide maintenance mode. The daemon
 * asked persists the flag and tells every peer (a peer that is down learns it
 * when it reconnects). While paused no automatic failover, handover or
 * preemption starts; see the README for what happens if the master dies.
 */

import {
  type Command,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { checkNodeFlag, runControlRequest } from "./_control.ts";

function pauseCommand(paused: boolean): Command {
  const name = paused ? "pause" : "resume";
  return {
    name,
    summary: paused
      ? "Maintenance: stop automatic failover cluster-wide"
      : "End maintenance: automatic failover again",
    usage: `Usage: clustd ${name} [--node URL]

${
      paused
        ? `Pauses the whole cluster: no automatic failover, handover or preemption
starts until \`clustd resume\`. The master keeps its role while it holds its
lease. If the master dies while paused, no node takes over until resume.
The flag survives restarts (state_dir/pause.json).`
        : `Resumes automatic failover everywhere; with no master, one is elected
within the usual failover time.`
    }

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
    async run(args) {
      const parsed = parseCommandArgs(this, args, {
        options: { node: { type: "string" } },
      });
      if (typeof parsed === "number") return parsed;
      const bad = checkNodeFlag(stringFlag(parsed.values, "node"));
      if (bad !== null) return usageError(this, bad);
      return await runControlRequest(parsed.values, { type: "pause", paused });
    },
  };
}

/** The `pause` command. */
export const pauseCommandEntry: Command = pauseCommand(true);
/** The `resume` command. */
export const resumeCommand: Command = pauseCommand(false);
