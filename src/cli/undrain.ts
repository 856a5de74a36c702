/** `clustd undrain`: makes a drained node eligible to become master again. */

import type { Command } from "./_command.ts";
import { simpleControlCommand } from "./_control.ts";

/** The `undrain` command. */
export const undrainCommand: Command = simpleControlCommand(
  "undrain",
  "Make a drained node eligible again",
  "Makes a drained node eligible to become master again.",
);
