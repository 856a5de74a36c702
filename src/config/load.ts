/**
 * The config file on disk: which path to read (`--config`, `$CLUSTD_CONFIG`,
 * `./config.yml`), reading it and the secret files it names, looking at the
 * programs it names (stat only), and printing issues. `check-config`, `run`
 * and a reload (SIGHUP) all load through here, so they refuse the same
 * files. All judgement is in validate.ts; this file only does the I/O.
 */

import { resolvePath } from "./path.ts";
import { CONFIG_ENV, DEFAULT_CONFIG_PATH } from "./schema.ts";
import type { ConfigIssue, ConfigResult } from "./types.ts";
import {
  type FileInspection,
  type FileRead,
  type ProgramInspector,
  validateConfig,
} from "./validate.ts";

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

/** How to load: where the path came from, and whether to judge the programs. */
export interface LoadOptions {
  source?: ConfigPathSource;
  /**
   * Look at the scripts and check commands on disk (exist, executable, safe
   * for root), judged for this process's user: for `check-config`, `run` and
   * a reload, not for commands that only need the address and the secret.
   */
  programs?: boolean;
}

/** Reads and validates the config at `path`, with every error at once. */
export async function loadConfig(
  path: string,
  options: LoadOptions = {},
): Promise<ConfigResult> {
  let text: string;
  let configMode: number | null = null;
  try {
    text = await Deno.readTextFile(path);
    if (Deno.build.os !== "windows") configMode = (await Deno.stat(path)).mode;
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
    ...(options.programs === true
      ? { programs: programInspector(), findProgram: findProgramOnDisk }
      : {}),
    configMode,
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

/** The user id of this process, read once (it never changes). */
let processUid: number | null | undefined;

/** Stats program files for validate.ts, judged for the user clustd runs as. */
export function programInspector(): ProgramInspector {
  if (processUid === undefined) {
    try {
      processUid = Deno.build.os === "windows" ? null : Deno.uid();
    } catch (_error: unknown) {
      // Without `sys: uid` the root rules cannot apply; the others still do.
      processUid = null;
    }
  }
  return { inspect: inspectFile, uid: processUid };
}

/** The callback validate.ts looks at scripts and check commands through. */
export function inspectFile(path: string): FileInspection {
  try {
    const info = Deno.statSync(path);
    const posix = Deno.build.os !== "windows";
    return {
      ok: true,
      isFile: info.isFile,
      mode: posix ? info.mode : null,
      uid: posix ? info.uid : null,
    };
  } catch (error: unknown) {
    return { ok: false, message: errorText(error) };
  }
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
