/**
 * The dispatch table: every `clustd` command, in the order `clustd help`
 * lists them. To add a command, write src/cli/<name>.ts exporting a `Command`
 * and list it here.
 */

import type { Command } from "./_command.ts";
import { checkConfigCommand } from "./check_config.ts";
import { deriveKeyCommand } from "./derive_key.ts";
import { cloudInitCommand } from "./cloud_init.ts";
import { drainCommand } from "./drain.ts";
import { helpCommand } from "./help.ts";
import { historyCommand } from "./history.ts";
import { pauseCommandEntry, resumeCommand } from "./pause.ts";
import { reloadCommand } from "./reload.ts";
import { initCommand } from "./init.ts";
import { keygenCommand } from "./keygen.ts";
import { runCommand } from "./run.ts";
import { statusCommand } from "./status.ts";
import { switchoverCommand } from "./switchover.ts";
import { systemdUnitCommand } from "./systemd_unit.ts";
import { undrainCommand } from "./undrain.ts";
import { versionCommand } from "./version.ts";

/** All commands, `help` first. */
export const COMMANDS: readonly Command[] = [
  helpCommand(() => COMMANDS),
  runCommand,
  statusCommand,
  switchoverCommand,
  drainCommand,
  undrainCommand,
  historyCommand,
  pauseCommandEntry,
  resumeCommand,
  reloadCommand,
  initCommand,
  keygenCommand,
  deriveKeyCommand,
  checkConfigCommand,
  cloudInitCommand,
  systemdUnitCommand,
  versionCommand,
];

/** The command named `name`, if any. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}
