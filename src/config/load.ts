/**
 * The config file on disk: which path to read (`--config`, `$CLUSTD_CONFIG`,
 * `./config.yml`), reading it and the secret files it names, and printing
 * issues. All judgement is in validate.ts; this file only does the I/O.
 */

import { resolvePath } from "./path.ts";
import { CONFIG_ENV, DEFAULT_CONFIG_PATH } from "./schema.ts";
import type { ConfigIssue, ConfigResult } from "./types.ts";
import { type FileRead, validateConfig } from "./validate.ts";

export type { ConfigIssue, ConfigResult } from "./types.ts";

/** How the config path was chosen, for messages. */
export type ConfigPathSource = "--config" | "$CLUSTD_CONFIG" | "default";

/** Picks the config path: `--config`, else `$CLUSTD_CONFIG`, else `./config.yml`. */
export function resolveConfigPath(
  flag: string | undefined,
): { path: string; source: ConfigPathSource } {
  if (flag !== undefined && flag !== "") {
    return { path: flag, source: "--config" };
  }
  let env: string | undefined;
  try {
    env = Deno.env.get(CONFIG_ENV);
  } catch (_error: unknown) {
    // Without env permission the variable cannot be consulted; use the default.
    env = undefined;
  }
  if (env !== undefined && env !== "") {
    return { path: env, source: "$CLUSTD_CONFIG" };
  }
  return { path: DEFAULT_CONFIG_PATH, source: "default" };
}

/** Reads and validates the config at `path`, with every error at once. */
export async function loadConfig(
  path: string,
  options: { source?: ConfigPathSource } = {},
): Promise<ConfigResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error: unknown) {
    const how = describeSource(options.source);
    const fix = error instanceof Deno.errors.NotFound
      ? 'Create one with "clustd init" or pass --config FILE'
      : "Check the path and its permissions";
    return {
      ok: false,
      errors: [{
        path: "",
        message: `Cannot read the config file ${JSON.stringify(path)}${how}: ${
          errorText(error)
        }. ${fix}`,
        file: path,
      }],
      warnings: [],
    };
  }
  return validateConfig(text, {
    file: path,
    path: resolvePath(path),
    readFile: readFileSync,
    findProgram: findProgramOnDisk,
  });
}

/** The first of `paths` that is an executable regular file, or null. */
export function findProgramOnDisk(paths: readonly string[]): string | null {
  for (const path of paths) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o755) & 0o111) !== 0) return path;
    } catch (_error: unknown) {
      // Not there (or unreadable): try the next location.
    }
  }
  return null;
}

function describeSource(source: ConfigPathSource | undefined): string {
  if (source === "--config") return " (from --config)";
  if (source === "$CLUSTD_CONFIG") return ` (from $${CONFIG_ENV})`;
  if (source === "default") {
    return ` (the default, as neither --config nor $${CONFIG_ENV} is set)`;
  }
  return "";
}

/** The callback validate.ts reads secret files through. */
export function readFileSync(path: string): FileRead {
  try {
    const text = Deno.readTextFileSync(path);
    let mode: number | null = null;
    if (Deno.build.os !== "windows") mode = Deno.statSync(path).mode;
    return { ok: true, text, mode };
  } catch (error: unknown) {
    return { ok: false, message: errorText(error) };
  }
}

/** A short reason for an I/O error, without the OS call name. */
function errorText(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Error) return error.message.replace(/, \w+ '.*'$/, "");
  return String(error);
}

/** `file:line:column: key.path: message` (parts omitted when unknown). */
export function formatIssue(issue: ConfigIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) {
    where += `:${issue.line}`;
    if (issue.column !== undefined) where += `:${issue.column}`;
  }
  const key = issue.path === "" ? "" : `${issue.path}: `;
  return `${where}: ${key}${issue.message}`;
}
