/**
 * Typed, position-aware reading of a parsed YAML document for validate.ts:
 * every getter records an issue (key path, line, column, message) instead of
 * throwing, so one pass collects all the errors of a file. It knows YAML nodes
 * and key paths, never the meaning of a key.
 */

import type { LinePos, YamlNode } from "../yaml/parse.ts";
import type { ConfigIssue } from "./types.ts";

/** Longest value quoted back in a message. */
const QUOTED_LENGTH_MAX = 60;

/** Largest edit distance still offered as "did you mean". */
const SUGGESTION_DISTANCE_MAX = 3;

/** An inclusive integer range. */
export interface Range {
  min: number;
  max: number;
}

/** Turns a source offset into a 1-based line and column. */
export interface LineLookup {
  linePos(offset: number): LinePos;
}

/** Collects issues and turns nodes into positions. */
export class Reader {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  readonly file: string;
  readonly #lines: LineLookup;

  constructor(file: string, lines: LineLookup) {
    this.file = file;
    this.#lines = lines;
  }

  /** Records an error at `node` (or at the top of the file without one). */
  error(
    path: string,
    node: YamlNode | null | undefined,
    message: string,
  ): void {
    this.errors.push(this.#issue(path, node, message));
  }

  /** Records a warning at `node`. */
  warn(path: string, node: YamlNode | null | undefined, message: string): void {
    this.warnings.push(this.#issue(path, node, message));
  }

  /** Records an issue at an explicit source offset (YAML syntax errors). */
  errorAtOffset(offset: number, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.errors.push({ path: "", line, column: col, message, file: this.file });
  }

  /** Reads a mapping node, reporting non-mappings, odd keys and unknown keys. */
  section(
    path: string,
    node: YamlNode | null,
    allowed: readonly string[],
  ): Section | null {
    if (node?.kind !== "map") {
      this.error(
        path,
        node,
        `${describeAsSubject(node)} must be a mapping of keys`,
      );
      return null;
    }
    const entries = new Map<string, Entry>();
    for (const pair of node.pairs) {
      const key = pair.key;
      if (typeof key.value !== "string") {
        this.error(path, key, `Keys must be plain text, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      const keyPath = join(path, name);
      if (!allowed.includes(name)) {
        this.error(keyPath, key, unknownKeyMessage(name, allowed));
        continue;
      }
      entries.set(name, { key, value: pair.value });
    }
    return new Section(this, path, node, entries);
  }

  #issue(path: string, node: YamlNode | null | undefined, message: string) {
    const issue: ConfigIssue = { path, message, file: this.file };
    const offset = node?.offset;
    if (offset !== undefined) {
      const { line, col } = this.#lines.linePos(offset);
      issue.line = line;
      issue.column = col;
    }
    return issue;
  }
}

interface Entry {
  key: YamlNode;
  value: YamlNode;
}

/** One mapping with typed getters. Absent and `null` values both read as unset. */
export class Section {
  readonly reader: Reader;
  readonly path: string;
  readonly node: YamlNode;
  readonly #entries: Map<string, Entry>;
  readonly #invalid = new Set<string>();

  constructor(
    reader: Reader,
    path: string,
    node: YamlNode,
    entries: Map<string, Entry>,
  ) {
    this.reader = reader;
    this.path = path;
    this.node = node;
    this.#entries = entries;
  }

  /** Key path of `key` inside this section. */
  pathOf(key: string): string {
    return join(this.path, key);
  }

  /** The value node of `key`, or null when absent or `null`. */
  value(key: string): YamlNode | null {
    const value = this.#entries.get(key)?.value ?? null;
    if (value?.kind === "scalar" && value.value === null) return null;
    return value;
  }

  /** True when `key` has a non-null value. */
  has(key: string): boolean {
    return this.value(key) !== null;
  }

  /** True when `key` was given but rejected (dependent checks then skip). */
  invalid(key: string): boolean {
    return this.#invalid.has(key);
  }

  /** Records an error at the value of `key` (or this section when absent). */
  error(key: string, message: string): void {
    this.#invalid.add(key);
    this.reader.error(this.pathOf(key), this.#at(key), message);
  }

  /** Records a warning at the value of `key`. */
  warn(key: string, message: string): void {
    this.reader.warn(this.pathOf(key), this.#at(key), message);
  }

  /** A required key that is absent. */
  missing(key: string, hint: string): void {
    this.#invalid.add(key);
    this.reader.error(
      this.pathOf(key),
      this.node,
      `Missing required key "${key}": ${hint}`,
    );
  }

  /** A text value; `undefined` when absent or not text. */
  string(key: string): string | undefined {
    const node = this.value(key);
    if (node === null) return undefined;
    if (node.kind === "scalar" && typeof node.value === "string") {
      if (node.value.trim() === "") {
        this.error(key, "Must not be empty");
        return undefined;
      }
      return node.value;
    }
    this.error(key, `${describeAsSubject(node)} must be text`);
    return undefined;
  }

  /** An integer within `range`; `fallback` when absent or invalid. */
  integer(key: string, range: Range, fallback: number): number {
    const node = this.value(key);
    if (node === null) return fallback;
    const value = node.kind === "scalar" ? node.value : undefined;
    if (
      typeof value === "number" && Number.isInteger(value) &&
      value >= range.min && value <= range.max
    ) {
      return value;
    }
    const shown = node.kind === "scalar"
      ? quote(node.value)
      : describeAsSubject(node);
    const unquote = typeof value === "string" && /^-?[0-9]+$/.test(value)
      ? " (remove the quotes: it is text, not a number)"
      : "";
    this.error(
      key,
      `${shown} must be an integer between ${range.min} and ${range.max}${unquote}`,
    );
    return fallback;
  }

  /** `true` or `false`; `fallback` when absent or invalid. */
  boolean(key: string, fallback: boolean): boolean {
    const node = this.value(key);
    if (node === null) return fallback;
    if (node.kind === "scalar" && typeof node.value === "boolean") {
      return node.value;
    }
    const shown = node.kind === "scalar"
      ? quote(node.value)
      : describeAsSubject(node);
    this.error(key, `${shown} must be true or false`);
    return fallback;
  }

  /** One of `choices`; `fallback` when absent or invalid. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const node = this.value(key);
    if (node === null) return fallback;
    const value = node.kind === "scalar" ? node.value : undefined;
    const found = choices.find((choice) => choice === value);
    if (found !== undefined) return found;
    const shown = node.kind === "scalar"
      ? quote(node.value)
      : describeAsSubject(node);
    const list = choices.map((c) => `"${c}"`).join(" or ");
    this.error(key, `${shown} must be ${list}`);
    return fallback;
  }

  /** The items of a list; `[]` when absent, reporting non-lists. */
  list(key: string): YamlNode[] {
    const node = this.value(key);
    if (node === null) return [];
    if (node.kind !== "seq") {
      this.error(key, `${describeAsSubject(node)} must be a list`);
      return [];
    }
    return [...node.items];
  }

  /** A list of text values; `undefined` when absent. */
  stringList(key: string): string[] | undefined {
    if (!this.has(key)) return undefined;
    const result: string[] = [];
    this.list(key).forEach((item, index) => {
      if (item.kind === "scalar" && typeof item.value === "string") {
        result.push(item.value);
      } else {
        this.#invalid.add(key);
        this.reader.error(
          `${this.pathOf(key)}[${index}]`,
          item,
          `${describeAsSubject(item)} must be text`,
        );
      }
    });
    return result;
  }

  #at(key: string): YamlNode {
    const entry = this.#entries.get(key);
    return entry?.value ?? entry?.key ?? this.node;
  }
}

/** Joins a key path: `cluster` + `peers` → `cluster.peers`. */
export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Describes a node for messages: its quoted value, "a mapping", "a list"... */
export function describe(node: YamlNode | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (node.kind === "map") return "a mapping";
  if (node.kind === "seq") return "a list";
  if (node.value === null) return "nothing";
  return quote(node.value);
}

/** `describe` at the start of a sentence. */
export function describeAsSubject(node: YamlNode | null | undefined): string {
  const text = describe(node);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Quotes a value for a message, shortened when long. */
export function quote(value: unknown): string {
  const text = String(value);
  const short = text.length > QUOTED_LENGTH_MAX
    ? `${text.slice(0, QUOTED_LENGTH_MAX)}...`
    : text;
  return JSON.stringify(short);
}

function unknownKeyMessage(name: string, allowed: readonly string[]): string {
  const suggestion = closest(name, allowed);
  if (suggestion !== undefined) {
    return `Unknown key "${name}": did you mean "${suggestion}"?`;
  }
  return `Unknown key "${name}": expected one of ${allowed.join(", ")}`;
}

/** The candidate nearest to `word` by edit distance, when close enough. */
export function closest(
  word: string,
  candidates: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.min(
    SUGGESTION_DISTANCE_MAX,
    Math.max(1, Math.floor(word.length / 3)),
  );
  const prefix = best !== undefined &&
    (best.startsWith(word) || word.startsWith(best));
  return bestDistance <= limit || prefix ? best : undefined;
}

/** Levenshtein distance (insert, delete, substitute). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
