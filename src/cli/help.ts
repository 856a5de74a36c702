/** `clustd help [COMMAND]`: the command list, or one command's full help. */

import {
  type Command,
  EXIT_OK,
  GLOBAL_OPTIONS_HELP,
  helpText,
  parseCommandArgs,
  usageError,
} from "./_command.ts";

/** The overview printed by `clustd help` and on a bare `clustd`. */
export function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `clustd: automated failover agent

Usage: clustd <command> [options]

Commands:
${lines.join("\n")}

${GLOBAL_OPTIONS_HELP}

Run "clustd <command> --help" for a command's options.`;
}

/** Builds the `help` command over the list it describes. */
export function helpCommand(commands: () => readonly Command[]): Command {
  return {
    name: "help",
    summary: "Show the command list or a command's help",
    usage: `Usage: clustd help [COMMAND]

Shows the list of commands, or the full help of COMMAND.`,
    run(args) {
      const parsed = parseCommandArgs(this, args, { positionalsMax: 1 });
      if (typeof parsed === "number") return Promise.resolve(parsed);
      const name = parsed.positionals[0];
      if (name === undefined) {
        console.log(overview(commands()));
        return Promise.resolve(EXIT_OK);
      }
      const command = commands().find((c) => c.name === name);
      if (command === undefined) {
        return Promise.resolve(
          usageError(this, `Unknown command ${JSON.stringify(name)}`),
        );
      }
      console.log(helpText(command));
      return Promise.resolve(EXIT_OK);
    },
  };
}
