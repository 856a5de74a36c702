/**
 * Entry point: argv -> command -> exit code (0 ok, 1 runtime failure, 2 usage
 * or config error). Global flags may come before the command. Any error that
 * escapes a command becomes one line `clustd: <message>`; a stack trace is
 * printed only when DEBUG enables clustd:main.
 */

import { closest } from "./config/_reader.ts";
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  usageError,
} from "./cli/_command.ts";
import { COMMANDS, findCommand } from "./cli/commands.ts";
import { overview } from "./cli/help.ts";
import { DebugMatcher } from "./log.ts";

/** Global flags that take a value and may precede the command name. */
const VALUE_FLAGS = ["--config", "--log-format"];

/** Runs the CLI with `args` (without the program name); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (error: unknown) {
    reportCrash(error);
    return EXIT_FAILURE;
  }
}

async function dispatch(args: string[]): Promise<number> {
  const leading: string[] = [];
  let index = 0;
  while (index < args.length) {
    const arg = args[index] ?? "";
    if (!arg.startsWith("-")) break;
    if (arg === "--help" || arg === "-h") {
      console.log(overview(COMMANDS));
      return EXIT_OK;
    }
    if (arg === "--version" || arg === "-V") {
      return await runNamed("version", []);
    }
    if (VALUE_FLAGS.includes(arg)) {
      const value = args[index + 1];
      if (value === undefined) {
        return usageError(null, `Option ${JSON.stringify(arg)} needs a value`);
      }
      leading.push(arg, value);
      index += 2;
    } else if (VALUE_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) {
      leading.push(arg);
      index += 1;
    } else {
      return usageError(null, `Unknown option ${JSON.stringify(arg)}`);
    }
  }
  const name = args[index];
  if (name === undefined) {
    console.error(overview(COMMANDS));
    return EXIT_USAGE;
  }
  const command = findCommand(name);
  if (command === undefined) {
    const guess = closest(name, COMMANDS.map((c) => c.name));
    const hint = guess === undefined ? "" : `: did you mean "${guess}"?`;
    return usageError(null, `Unknown command ${JSON.stringify(name)}${hint}`);
  }
  return await command.run([...leading, ...args.slice(index + 1)]);
}

async function runNamed(name: string, args: string[]): Promise<number> {
  const command = findCommand(name);
  return command === undefined ? EXIT_FAILURE : await command.run(args);
}

function debugEnabled(): boolean {
  try {
    return new DebugMatcher(Deno.env.get("DEBUG") ?? "").enabled("main");
  } catch (_error: unknown) {
    // No env permission: keep crashes to one line.
    return false;
  }
}

/** Prints an unexpected error as one line (with the stack only under DEBUG). */
function reportCrash(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`clustd: ${message.split("\n")[0]}`);
  if (debugEnabled() && error instanceof Error && error.stack !== undefined) {
    console.error(error.stack);
  }
}

if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    reportCrash(event.reason);
    Deno.exit(EXIT_FAILURE);
  });
  Deno.exit(await main(Deno.args));
}
