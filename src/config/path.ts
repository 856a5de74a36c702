/**
 * The few path operations the config needs (directory of a file, joining a
 * relative path, making a path absolute), for POSIX paths and Windows-style
 * absolute paths (`C:\x`, `\\server\share`). Pure string work except
 * resolvePath(), which reads the working directory. Exists so the daemon does
 * not load Node's path module; it never touches the file system.
 */

import { isAbsolutePath } from "./_net.ts";

/** True for `C:\x`, `C:/x` and `\\server\share` paths. */
function isWindowsStyle(path: string): boolean {
  return /^[a-zA-Z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** Removes `.`, `..`, repeated and trailing separators: `/a/./b/../c//d/` → `/a/c/d`. */
export function normalizePath(path: string): string {
  const windows = isWindowsStyle(path);
  const separator = windows ? "\\" : "/";
  let root = "";
  if (windows) {
    root = path.startsWith("\\\\") ? "\\\\" : `${path.slice(0, 2)}\\`;
  } else if (path.startsWith("/")) root = "/";
  const parts: string[] = [];
  for (const part of path.slice(root.length).split(windows ? /[\\/]/ : "/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts.at(-1) !== "..") {
      parts.pop();
    } else if (part !== ".." || root === "") {
      parts.push(part);
    }
  }
  const joined = root + parts.join(separator);
  return joined === "" ? "." : joined;
}

/** The directory holding `path`: `/etc/clustd/config.yml` → `/etc/clustd`. */
export function dirname(path: string): string {
  const normal = normalizePath(path);
  const cut = isWindowsStyle(normal)
    ? Math.max(normal.lastIndexOf("\\"), normal.lastIndexOf("/"))
    : normal.lastIndexOf("/");
  if (cut < 0) return ".";
  const parent = normal.slice(0, cut);
  // Keep the root: "/x" → "/", "C:\x" → "C:\".
  return normalizePath(
    parent === "" || /^[a-zA-Z]:$/.test(parent) || parent === "\\"
      ? normal.slice(0, cut + 1)
      : parent,
  );
}

/** `base` joined with `path` unless `path` is absolute, normalized. */
export function joinPath(base: string, path: string): string {
  if (isAbsolutePath(path)) return normalizePath(path);
  const separator = isWindowsStyle(base) ? "\\" : "/";
  return normalizePath(`${base}${separator}${path}`);
}

/** `path` made absolute against the working directory, normalized. */
export function resolvePath(path: string): string {
  return joinPath(Deno.cwd(), path);
}
