/** `clustd drain`: makes the node ineligible to become master; a master hands over first. */

import type { Command } from "./_command.ts";
import { simpleControlCommand } from "./_control.ts";

/** The `drain` command. */
export const drainCommand: Command = simpleControlCommand(
  "drain",
  "Make a node ineligible (hands over if master)",
  "Marks a node ineligible to become master; a master hands over first.",
);
