/**
 * The programs a config names (bash `promote`, `demote`, `pre_promote`, check
 * `command`) for validate.ts: each must exist, be a regular file and be
 * executable; when clustd runs as root it must also be owned by root and not
 * be writable by group or others, and so must every directory above it
 * (except root's sticky ones, like /tmp), as keepalived's script security
 * requires: a file another user can change or replace would run as root. So a typo or a bad mode fails `check-config`, `run` and a reload, not
 * the next failover. Looks at files only through the callback it is given;
 * never reads or runs them.
 */

import { isAbsolutePath } from "./_net.ts";
import { quote, type Section } from "./_reader.ts";
import type { FileInspection } from "./types.ts";

/** How validate.ts may look at program files, and who will run them. */
export interface ProgramInspector {
  /** Stats a path (following symlinks). */
  inspect(path: string): FileInspection;
  /** The user id clustd runs as; null when unknown (no root rules). */
  uid: number | null;
}

/** One program path in the config, with the key it was read from. */
export interface ProgramRef {
  section: Section;
  key: string;
  path: string;
}

/** Reports every program that is missing, not runnable or unsafe to run. */
export function checkPrograms(
  refs: readonly ProgramRef[],
  inspector: ProgramInspector,
): void {
  for (const ref of refs) {
    // Relative paths are refused where they are read.
    if (!isAbsolutePath(ref.path)) continue;
    const problem = programProblem(ref.path, inspector.inspect(ref.path), {
      uid: inspector.uid,
    }) ?? (inspector.uid === 0 ? directoryProblem(ref.path, inspector) : null);
    if (problem !== null) ref.section.error(ref.key, problem);
  }
}

/** The directories above an absolute POSIX path, nearest first, `/` last. */
function parents(path: string): string[] {
  const dirs: string[] = [];
  let dir = path.replace(/\/+$/, "");
  while (dir.lastIndexOf("/") > 0) {
    dir = dir.slice(0, dir.lastIndexOf("/"));
    dirs.push(dir);
  }
  dirs.push("/");
  return dirs;
}

/**
 * As root: why a directory above the program lets another user replace it,
 * or null. A directory owned by another user, or writable by group or
 * others, does, unless it is root's and sticky (like /tmp: there only an
 * entry's owner may rename or remove it).
 */
function directoryProblem(
  path: string,
  inspector: ProgramInspector,
): string | null {
  // Windows paths (C:/...) have no POSIX modes to judge.
  if (!path.startsWith("/")) return null;
  for (const dir of parents(path)) {
    const info = inspector.inspect(dir);
    if (!info.ok || info.mode === null) continue;
    const rootsSticky = info.uid === 0 && (info.mode & 0o1000) !== 0;
    const writable = (info.mode & 0o022) !== 0 && !rootsSticky;
    const foreign = info.uid !== null && info.uid !== 0;
    if (!writable && !foreign) continue;
    const fault = writable
      ? `writable by group or others (mode ${octal(info.mode)})`
      : `owned by user id ${info.uid}`;
    const fix = writable ? `"chmod go-w ${dir}"` : `"chown root ${dir}"`;
    return `${quote(path)} is in ${
      quote(dir)
    }, which is ${fault}, and clustd runs as root, so another user could replace what root runs: run ${fix}, or move the program`;
  }
  return null;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Why `path` cannot be run safely, or null when it can. */
export function programProblem(
  path: string,
  file: FileInspection,
  options: { uid: number | null },
): string | null {
  const { uid } = options;
  const name = quote(path);
  if (!file.ok) {
    return `${name} cannot be used: ${file.message}. Create it or fix the path`;
  }
  if (!file.isFile) {
    return `${name} is not a regular file: name the program itself`;
  }
  // Windows has no modes or owners to judge.
  if (file.mode === null) return null;
  if (!executable(file.mode, file.uid, uid)) {
    return `${name} is not executable (mode ${
      octal(file.mode)
    }): run "chmod +x ${path}"`;
  }
  if (uid !== 0) return null;
  // Both faults in one message, so one fix round clears the file.
  const faults: string[] = [];
  const fixes: string[] = [];
  if ((file.mode & 0o022) !== 0) {
    faults.push(`writable by group or others (mode ${octal(file.mode)})`);
    fixes.push(`"chmod go-w ${path}"`);
  }
  if (file.uid !== null && file.uid !== 0) {
    faults.push(`owned by user id ${file.uid}`);
    fixes.push(`"chown root ${path}"`);
  }
  if (faults.length === 0) return null;
  return `${name} is ${
    faults.join(" and ")
  }, and clustd runs as root, so another user could change what root runs: run ${
    fixes.join(" and ")
  }`;
}

/**
 * Whether the user `uid` may execute a file of `mode` owned by `owner`.
 * Root needs any x bit. Others need the owner's bit on their own files, else
 * the group's or others' (group membership is not known here, so a file
 * executable only by a group the user is not in passes and fails at run).
 */
function executable(
  mode: number,
  owner: number | null,
  uid: number | null,
): boolean {
  if (uid === 0 || uid === null || owner === null) {
    return (mode & 0o111) !== 0;
  }
  if (owner === uid) return (mode & 0o100) !== 0;
  return (mode & 0o011) !== 0;
}
