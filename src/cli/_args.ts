/**
 * Strict command-line flag parsing: `--name value`, `--name=value`, boolean
 * `--flag`, one-letter aliases (`-h`), repeatable flags and `--` ending the
 * flags. Built in rather than `node:util`'s parseArgs because loading any
 * Node built-in costs the daemon ~2 MB of resident memory for the whole run.
 * Never prints and never exits: a bad flag is an `ArgsError` the caller turns
 * into a usage error.
 */

/** One flag's spec. */
export interface FlagOption {
  type: "string" | "boolean";
  /** A one-letter alias, e.g. `h` for `-h`. */
  short?: string;
  /** Collect every occurrence into a list. */
  multiple?: boolean;
}

/** Flags by long name (without `--`). */
export type FlagOptions = Record<string, FlagOption>;

/** Parsed flag values (strings, booleans, or lists for `multiple` flags). */
export type FlagValues = Record<
  string,
  string | boolean | (string | boolean)[] | undefined
>;

/** Result of a successful parse. */
export interface ParsedArgs {
  values: FlagValues;
  positionals: string[];
}

/** A flag the spec does not allow, or a flag used the wrong way. */
export class ArgsError extends Error {
  override name = "ArgsError";
}

/** Parses `args` against `options`; throws ArgsError on any misuse. */
export function parseFlags(args: string[], options: FlagOptions): ParsedArgs {
  const values: FlagValues = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.short !== undefined) byShort.set(option.short, name);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const { name, inline } = splitFlag(arg, byShort);
    const option = Object.hasOwn(options, name) ? options[name] : undefined;
    if (option === undefined) throw new ArgsError(`Unknown option "${arg}"`);
    let value: string | boolean;
    if (option.type === "boolean") {
      if (inline !== undefined) {
        throw new ArgsError(`Option "--${name}" does not take a value`);
      }
      value = true;
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw new ArgsError(`Option "--${name}" needs a value`);
      }
      value = next;
      i++;
    }
    if (option.multiple === true) {
      const list = values[name];
      values[name] = Array.isArray(list) ? [...list, value] : [value];
    } else {
      values[name] = value;
    }
  }
  return { values, positionals };
}

/** `--name=value` → name and inline value; `-h` → its long name. */
function splitFlag(
  arg: string,
  byShort: Map<string, string>,
): { name: string; inline: string | undefined } {
  if (arg.startsWith("--")) {
    const equals = arg.indexOf("=");
    return equals === -1
      ? { name: arg.slice(2), inline: undefined }
      : { name: arg.slice(2, equals), inline: arg.slice(equals + 1) };
  }
  if (arg.length !== 2) throw new ArgsError(`Unknown option "${arg}"`);
  const name = byShort.get(arg.slice(1));
  if (name === undefined) throw new ArgsError(`Unknown option "${arg}"`);
  return { name, inline: undefined };
}
