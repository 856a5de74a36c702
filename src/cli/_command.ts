/**
 * The shape every CLI command shares, exit codes, and strict flag parsing with
 * usage errors instead of stack traces. Commands live one per file in src/cli/
 * and are listed in commands.ts. Never exits the process (main.ts does).
 */

import { configureLogging } from "../log.ts";
import {
  ArgsError,
  type FlagOptions,
  type FlagValues,
  type ParsedArgs,
  parseFlags,
} from "./_args.ts";

export type { FlagValues, ParsedArgs } from "./_args.ts";

/** A subcommand of `clustd`. */
export interface Command {
  /** What the user types, e.g. `check-config`. */
  name: string;
  /** One line for `clustd help`. */
  summary: string;
  /** Full help; its first line is `Usage: clustd <name> ...`. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Success. */
export const EXIT_OK = 0;
/** Runtime failure (I/O, daemon unreachable...). */
export const EXIT_FAILURE = 1;
/** Usage or config error. */
export const EXIT_USAGE = 2;

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  config: { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies FlagOptions;

/** Help lines for GLOBAL_OPTIONS, appended to every command's usage. */
export const GLOBAL_OPTIONS_HELP = `Global options:
  --config FILE        Config file (default: $CLUSTD_CONFIG, else ./config.yml)
  --log-format FORMAT  Log line format on stderr: "text" (default) or "json"
  -h, --help           Show this help`;

/** Flag spec for `parseCommandArgs`. */
export interface FlagSpec {
  options?: FlagOptions;
  /** Most positional arguments accepted (default 0). */
  positionalsMax?: number;
}

/**
 * Parses `args` strictly with the global options added. Returns the parsed
 * values, or an exit code after printing help (0) or a usage error (2).
 */
export function parseCommandArgs(
  command: Command,
  args: string[],
  spec: FlagSpec = {},
): ParsedArgs | number {
  let parsed: ParsedArgs;
  try {
    parsed = parseFlags(args, { ...GLOBAL_OPTIONS, ...spec.options });
  } catch (error: unknown) {
    if (!(error instanceof ArgsError)) throw error;
    return usageError(command, error.message);
  }
  if (parsed.values.help === true) {
    console.log(helpText(command));
    return EXIT_OK;
  }
  const max = spec.positionalsMax ?? 0;
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals[max] ?? "";
    return usageError(command, `Unexpected argument ${JSON.stringify(extra)}`);
  }
  const format = parsed.values["log-format"];
  if (format !== undefined) {
    if (format !== "text" && format !== "json") {
      return usageError(
        command,
        `--log-format must be "text" or "json", not ${JSON.stringify(format)}`,
      );
    }
    configureLogging({ format });
  }
  return parsed;
}

/** The full help of a command, global options included. */
export function helpText(command: Command): string {
  return `${command.usage.trimEnd()}\n\n${GLOBAL_OPTIONS_HELP}`;
}

/** Prints a usage error with the command's usage line; returns exit code 2. */
export function usageError(command: Command | null, message: string): number {
  const name = command === null ? "" : ` ${command.name}`;
  const usage = command?.usage.split("\n")[0] ??
    "Usage: clustd <command> [options]";
  console.error(
    `error: ${message}\n\n${usage}\n\nRun "clustd${name} --help" for more.`,
  );
  return EXIT_USAGE;
}

/** A string flag's value, or undefined. */
export function stringFlag(
  values: FlagValues,
  name: string,
): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** All values of a repeatable string flag. */
export function stringsFlag(values: FlagValues, name: string): string[] {
  const value = values[name];
  if (!Array.isArray(value)) return typeof value === "string" ? [value] : [];
  return value.filter((item): item is string => typeof item === "string");
}

/** Exit code of a command that is registered but not built yet. */
export function notAvailable(command: Command): number {
  console.error(`clustd: "${command.name}" is not available yet`);
  return EXIT_FAILURE;
}
