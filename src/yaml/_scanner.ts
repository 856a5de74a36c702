/**
 * The cursor the YAML parser moves over the source text: line breaks (LF and
 * CRLF), blank and comment lines, document markers, node properties (anchors,
 * tags) and aliases, the nesting bound and the error list. It never builds
 * collections and never throws except `YamlAbort`, which only parseYaml()
 * catches.
 */

import type { YamlError, YamlNode, YamlScalar } from "./types.ts";

/** Deepest nesting of collections accepted, block and flow together. */
export const YAML_DEPTH_MAX = 64;

/** Most errors reported for one text; parsing stops at this many. */
export const YAML_ERRORS_MAX = 50;

/** Thrown to stop parsing (too deep, too many errors); caught by parseYaml(). */
export class YamlAbort {}

/** A line holding content, as seen from its start. */
export interface Line {
  /** Offset of the first character of the line. */
  start: number;
  /** Offset of the first non-blank character. */
  content: number;
  /** Leading spaces before the content (tabs are not counted). */
  indent: number;
  /** Offset of a tab inside the indentation, or -1. */
  tab: number;
  /** A `---` or `...` document marker at column 1, or null. */
  marker: "---" | "..." | null;
}

/** The message for a tab where YAML needs indentation by spaces. */
export const TAB_INDENT = "Tabs are not allowed for indentation: use spaces";

/** Characters that start a node other than a plain scalar. */
const INDICATORS = "-?:,[]{}#&*!|>'\"%@`";

/** Characters that end a flow collection entry. */
export const FLOW_INDICATORS = ",[]{}";

/** A byte order mark, allowed as the first character only. */
export const BOM = "\uFEFF";

/** Anchor names under construction map to this until their node is done. */
const PENDING = Symbol("pending");

/** Source text, position and findings of one parse. */
export class Scanner {
  readonly src: string;
  pos = 0;
  readonly errors: YamlError[] = [];
  readonly #anchors = new Map<string, YamlNode | typeof PENDING>();
  #depth = 0;

  constructor(src: string) {
    this.src = src;
  }

  /** Records an error; aborts the parse once there are too many. */
  error(offset: number, message: string): void {
    this.errors.push({ offset: Math.min(offset, this.src.length), message });
    if (this.errors.length >= YAML_ERRORS_MAX) {
      this.errors.push({
        offset: this.src.length,
        message: `Too many errors (${YAML_ERRORS_MAX}): fix these first`,
      });
      throw new YamlAbort();
    }
  }

  /** Enters one level of collection nesting at `offset`. */
  enter(offset: number): void {
    this.#depth += 1;
    if (this.#depth > YAML_DEPTH_MAX) {
      this.errors.push({
        offset,
        message:
          `Nesting deeper than ${YAML_DEPTH_MAX} levels is not supported`,
      });
      throw new YamlAbort();
    }
  }

  /** Leaves a level entered with enter(). */
  leave(): void {
    this.#depth -= 1;
  }

  /** The character at `at` (default: the cursor), "" past the end. */
  char(at = this.pos): string {
    return this.src[at] ?? "";
  }

  /** True at a line break (LF, or CR followed by LF). */
  isBreak(at: number): boolean {
    const c = this.src[at];
    return c === "\n" || (c === "\r" && this.src[at + 1] === "\n");
  }

  /** True at a space or tab. */
  isBlank(at: number): boolean {
    const c = this.src[at];
    return c === " " || c === "\t";
  }

  /** True at a line break or the end of the text. */
  isEnd(at: number): boolean {
    return at >= this.src.length || this.isBreak(at);
  }

  /** True at a blank, a line break or the end of the text. */
  isBlankOrEnd(at: number): boolean {
    return this.isBlank(at) || this.isEnd(at);
  }

  /** Offset of the line break ending the line that holds `at` (or the end). */
  lineEnd(at: number): number {
    let i = at;
    while (!this.isEnd(i)) i += 1;
    return i;
  }

  /** Offset just past the line break at `at` (which must be a break or the end). */
  afterBreak(at: number): number {
    if (at >= this.src.length) return at;
    return this.src[at] === "\r" ? at + 2 : at + 1;
  }

  /** 1-based line number of `at` (for messages that point elsewhere). */
  lineOf(at: number): number {
    let line = 1;
    for (let i = 0; i < at && i < this.src.length; i += 1) {
      if (this.src[i] === "\n") line += 1;
    }
    return line;
  }

  /** Column (0-based) of `at` within its line. */
  column(at: number): number {
    let i = at;
    while (i > 0 && this.src[i - 1] !== "\n") i -= 1;
    return i === 0 && this.src[0] === BOM && at > 0 ? at - 1 : at - i;
  }

  /** The first offset at or after `at` that is not a space or tab. */
  afterBlanks(at: number): number {
    let i = at;
    while (this.isBlank(i)) i += 1;
    return i;
  }

  /** Skips spaces and tabs on the current line. */
  skipBlanks(): void {
    while (this.isBlank(this.pos)) this.pos += 1;
  }

  /** True when only blanks and maybe a comment remain on the current line. */
  atLineRest(): boolean {
    let i = this.pos;
    while (this.isBlank(i)) i += 1;
    if (this.isEnd(i)) return true;
    const commentOk = i > this.pos || i === 0 || this.isBlankOrEnd(i - 1);
    return this.src[i] === "#" && commentOk;
  }

  /**
   * Ends the current line: blanks and a comment are fine, anything else is
   * reported with `message` and skipped. Leaves the cursor at the line break.
   */
  finishLine(message: string): void {
    if (!this.atLineRest()) {
      this.skipBlanks();
      this.error(this.pos, message);
    }
    this.pos = this.lineEnd(this.pos);
  }

  /**
   * The next line with content, skipping blank and comment lines, or null
   * at the end. It starts with the cursor's line when the cursor is at a line
   * start, else with the line after. The cursor is not moved.
   */
  peekLine(): Line | null {
    const at = this.pos;
    return this.peekLineAt(
      this.#isLineStart(at) ? at : this.afterBreak(this.lineEnd(at)),
    );
  }

  /** True at the start of a line (after a byte order mark on the first). */
  #isLineStart(at: number): boolean {
    return at === 0 || this.src[at - 1] === "\n" ||
      (at === 1 && this.src[0] === BOM);
  }

  /** The first line with content from the line starting at `start`. */
  peekLineAt(start: number): Line | null {
    let at = start;
    while (at < this.src.length) {
      const line = this.#lineAt(at);
      if (line !== null) return line;
      at = this.afterBreak(this.lineEnd(at));
    }
    return null;
  }

  /** Line facts at `start`, or null for a blank or comment-only line. */
  #lineAt(start: number): Line | null {
    let i = start;
    let tab = -1;
    while (this.isBlank(i)) {
      if (this.src[i] === "\t" && tab < 0) tab = i;
      i += 1;
    }
    if (this.isEnd(i) || this.src[i] === "#") return null;
    let indent = 0;
    while (this.src[start + indent] === " ") indent += 1;
    return { start, content: i, indent, tab, marker: this.markerAt(start) };
  }

  /** The document marker (`---`, `...`) starting the line at `start`, or null. */
  markerAt(start: number): "---" | "..." | null {
    const three = this.src.slice(start, start + 3);
    if (three !== "---" && three !== "...") return null;
    return this.isBlankOrEnd(start + 3) ? three : null;
  }

  /** Moves to the content of `line`, reporting tabs in its indentation. */
  enterLine(line: Line): void {
    if (line.tab >= 0) {
      this.error(line.tab, TAB_INDENT);
    }
    this.pos = line.content;
  }

  /** True when the cursor is at `- ` (a block sequence entry). */
  atDash(at = this.pos): boolean {
    return this.src[at] === "-" && this.isBlankOrEnd(at + 1);
  }

  /** True when `c` cannot start a plain scalar (here, before `next`). */
  isIndicator(at: number, flow: boolean): boolean {
    const c = this.src[at] ?? "";
    if (!INDICATORS.includes(c)) return false;
    if (c === "-" || c === "?" || c === ":") {
      const next = at + 1;
      if (this.isBlankOrEnd(next)) return true;
      return flow && FLOW_INDICATORS.includes(this.src[next] ?? "");
    }
    return true;
  }

  /**
   * Reads node properties (`&anchor`, `!tag`) before a node. Tags are not
   * supported and reported; returns the anchor name, if any.
   */
  properties(flow: boolean): string | null {
    let anchor: string | null = null;
    for (let round = 0; round < 2; round += 1) {
      const c = this.src[this.pos];
      if (c !== "&" && c !== "!") break;
      const start = this.pos;
      const name = this.#name(start + 1);
      const ends = flow && ",]}".includes(this.char());
      if (!this.isBlankOrEnd(this.pos) && !ends) {
        this.error(this.pos, `Put a space after "${c}${name}"`);
      }
      if (c === "&") {
        if (name === "") this.error(start, 'An anchor needs a name after "&"');
        if (anchor !== null) {
          this.error(start, "A node can have one anchor only");
        }
        anchor = name;
      } else {
        this.error(
          start,
          `Tags such as ${
            JSON.stringify(this.src.slice(start, this.pos))
          } are not supported: remove it (quote a value to make it text)`,
        );
      }
      this.skipBlanks();
    }
    return anchor;
  }

  /** Reads an anchor or alias name from `from`; the cursor ends after it. */
  #name(from: number): string {
    let i = from;
    while (
      !this.isBlankOrEnd(i) && !FLOW_INDICATORS.includes(this.src[i] ?? "")
    ) i += 1;
    this.pos = i;
    return this.src.slice(from, i);
  }

  /** Marks `name` as being defined (aliases to it are cycles until done). */
  beginAnchor(name: string | null): void {
    if (name !== null && name !== "") this.#anchors.set(name, PENDING);
  }

  /** Binds `name` to its finished node. */
  endAnchor(name: string | null, node: YamlNode): void {
    if (name !== null && name !== "") this.#anchors.set(name, node);
  }

  /** Reads `*name` at the cursor and returns the node it names. */
  alias(): YamlNode {
    const start = this.pos;
    const name = this.#name(start + 1);
    const target = this.#anchors.get(name);
    if (name === "") {
      this.error(start, 'An alias needs a name after "*"');
    } else if (target === undefined) {
      this.error(
        start,
        `Unknown alias "*${name}": define "&${name}" before using it`,
      );
    } else if (target === PENDING) {
      this.error(start, `The alias "*${name}" is inside the node it names`);
    } else {
      return target;
    }
    return nullScalar(start);
  }
}

/** An empty (null) scalar at `offset`, for absent values. */
export function nullScalar(offset: number): YamlScalar {
  return { kind: "scalar", value: null, style: "plain", offset, end: offset };
}

/** Reports characters YAML forbids in a file: controls and lone CRs. */
export function checkCharacters(scanner: Scanner): void {
  const src = scanner.src;
  for (let i = 0; i < src.length; i += 1) {
    const code = src.charCodeAt(i);
    const control = (code < 0x20 && code !== 0x09 && code !== 0x0a) ||
      (code >= 0x7f && code <= 0x9f);
    if (code === 0xfeff && i > 0) {
      scanner.error(
        i,
        "A byte order mark (U+FEFF) may only start the file: remove this one",
      );
    } else if (code === 0x0d) {
      if (src.charCodeAt(i + 1) !== 0x0a) {
        scanner.error(i, "A carriage return must be followed by a line feed");
      }
    } else if (control) {
      const hex = code.toString(16).toUpperCase().padStart(4, "0");
      scanner.error(
        i,
        `The control character U+${hex} is not allowed: remove it (or write it as an escape in a double-quoted string)`,
      );
    }
  }
}
