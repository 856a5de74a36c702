/**
 * YAML flow scalars for the config reader: plain (one or more lines), single-
 * and double-quoted (with folding and escapes), and the YAML 1.2 core schema
 * that turns plain text into null, booleans and numbers. Reads through the
 * Scanner; never builds collections.
 */

import type { YamlScalar, YamlScalarValue } from "./types.ts";
import { FLOW_INDICATORS, type Scanner, TAB_INDENT } from "./_scanner.ts";

/** Single-character escapes of double-quoted scalars. */
const ESCAPES: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  t: "\t",
  "\t": "\t",
  n: "\n",
  v: "\v",
  f: "\f",
  r: "\r",
  e: "\x1b",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  N: "\x85",
  _: "\xa0",
  L: "\u2028",
  P: "\u2029",
};

/** Hex digits after `\x`, `\u` and `\U`. */
const HEX_ESCAPES: Record<string, number> = { x: 2, u: 4, U: 8 };

/** A plain scalar read, and whether a `:` after it makes it a block key. */
export interface PlainRead {
  node: YamlScalar;
  key: boolean;
}

/**
 * Reads a plain scalar at the cursor. In block context it continues on
 * following lines indented more than `parentIndent`, unless its first line
 * ends with `: ` (then it is a key and the cursor stays at the colon).
 */
export function plainScalar(
  s: Scanner,
  parentIndent: number,
  flow: boolean,
): PlainRead {
  const start = s.pos;
  let end = scanPlainLine(s, start, flow);
  let text = s.src.slice(start, end);
  s.pos = end;
  if (!flow && atMappingColon(s, end) >= 0) {
    s.pos = atMappingColon(s, end);
    return { node: plain(text, start, end), key: true };
  }
  while (s.isEnd(s.afterBlanks(s.pos))) {
    const lineStart = s.afterBreak(s.lineEnd(s.pos));
    const next = nextLine(s, lineStart, parentIndent, true);
    if (next === null) break;
    const lineEnd = scanPlainLine(s, next.content, flow);
    if (lineEnd === next.content) break;
    if (!flow && atMappingColon(s, lineEnd) >= 0) break;
    reportTab(s, next);
    text += fold(next.empty);
    text += s.src.slice(next.content, lineEnd);
    s.pos = lineEnd;
    end = lineEnd;
  }
  return { node: plain(text, start, end), key: false };
}

function plain(text: string, offset: number, end: number): YamlScalar {
  return {
    kind: "scalar",
    value: resolvePlain(text),
    style: "plain",
    offset,
    end,
  };
}

/** End of the plain text on the line from `from` (trailing blanks excluded). */
function scanPlainLine(s: Scanner, from: number, flow: boolean): number {
  let i = from;
  let end = from;
  while (!s.isEnd(i)) {
    const c = s.char(i);
    if (s.isBlank(i)) {
      i += 1;
      continue;
    }
    if (c === "#" && i > from && s.isBlank(i - 1)) break;
    if (c === ":") {
      const next = s.char(i + 1);
      if (s.isBlankOrEnd(i + 1) || (flow && FLOW_INDICATORS.includes(next))) {
        break;
      }
    }
    if (flow && FLOW_INDICATORS.includes(c)) break;
    i += 1;
    end = i;
  }
  return end;
}

/** Offset of a `:` (then a blank or the line end) after blanks at `at`, or -1. */
function atMappingColon(s: Scanner, at: number): number {
  const i = s.afterBlanks(at);
  return s.char(i) === ":" && s.isBlankOrEnd(i + 1) ? i : -1;
}

/** A line continuing a multi-line scalar, after `empty` empty lines. */
interface NextLine {
  content: number;
  empty: number;
  /** A tab indenting one of the empty lines (`yaml` refuses it), or -1. */
  tab: number;
}

/**
 * The next line continuing a multi-line scalar from `lineStart`, or null
 * when the scalar ends there: a line indented no more than `parentIndent`, a
 * document marker, the end of the text, and for plain scalars a comment.
 */
function nextLine(
  s: Scanner,
  lineStart: number,
  parentIndent: number,
  plain: boolean,
): NextLine | null {
  let at = lineStart;
  let empty = 0;
  let tab = -1;
  while (at < s.src.length) {
    let spaces = 0;
    while (s.char(at + spaces) === " ") spaces += 1;
    const content = s.afterBlanks(at + spaces);
    if (s.isEnd(content)) {
      if (tab < 0 && spaces <= parentIndent && s.char(at + spaces) === "\t") {
        tab = at + spaces;
      }
      empty += 1;
      at = s.afterBreak(content);
      continue;
    }
    if (
      s.markerAt(at) !== null || spaces <= parentIndent ||
      (plain && s.char(content) === "#")
    ) {
      return null;
    }
    return { content, empty, tab };
  }
  return null;
}

/** Reports a tab found by nextLine() once its line is used. */
function reportTab(s: Scanner, next: NextLine): void {
  if (next.tab >= 0) s.error(next.tab, TAB_INDENT);
}

/** A folded line break followed by `empty` empty lines. */
function fold(empty: number): string {
  return empty > 0 ? "\n".repeat(empty) : " ";
}

/** A quoted scalar read, and whether it spans lines (then it is no key). */
export interface QuotedRead {
  node: YamlScalar;
  multiline: boolean;
}

/**
 * Reads a single- or double-quoted scalar at the cursor, folding line breaks.
 * Continuation lines must be indented more than `parentIndent`.
 */
export function quotedScalar(s: Scanner, parentIndent: number): QuotedRead {
  const start = s.pos;
  const quote = s.char(start);
  const double = quote === '"';
  let value = "";
  let blanks = "";
  let multiline = false;
  let i = start + 1;
  for (;;) {
    if (i >= s.src.length) return unclosed(s, start, value, multiline);
    const c = s.char(i);
    if (c === quote && !(!double && s.char(i + 1) === "'")) {
      value += blanks;
      i += 1;
      break;
    }
    if (!double && c === "'") {
      value += blanks + "'";
      blanks = "";
      i += 2;
    } else if (double && c === "\\" && s.isBreak(i + 1)) {
      value += blanks;
      blanks = "";
      const next = nextLine(s, s.afterBreak(i + 1), parentIndent, false);
      if (next === null) return unclosed(s, start, value, multiline);
      reportTab(s, next);
      multiline = true;
      // The escaped break itself vanishes; empty lines after it fold as
      // after a plain break (what `yaml` does).
      if (next.empty > 0) value += fold(next.empty - 1);
      i = next.content;
    } else if (double && c === "\\") {
      value += blanks + escape(s, i);
      blanks = "";
      i = s.pos;
    } else if (s.isBreak(i)) {
      blanks = "";
      const next = nextLine(s, s.afterBreak(i), parentIndent, false);
      if (next === null) return unclosed(s, start, value, multiline);
      reportTab(s, next);
      multiline = true;
      value += fold(next.empty);
      i = next.content;
    } else if (s.isBlank(i)) {
      blanks += c;
      i += 1;
    } else {
      value += blanks + c;
      blanks = "";
      i += 1;
    }
  }
  s.pos = i;
  const style = double ? "double" : "single";
  return {
    node: { kind: "scalar", value, style, offset: start, end: i },
    multiline,
  };
}

function unclosed(
  s: Scanner,
  start: number,
  value: string,
  multiline: boolean,
): QuotedRead {
  const quote = s.char(start);
  s.error(
    start,
    `This quoted text is not closed: add the closing ${quote} (continuation lines must be indented)`,
  );
  const end = s.lineEnd(start);
  s.pos = end;
  const style = quote === '"' ? "double" : "single";
  return {
    node: { kind: "scalar", value, style, offset: start, end },
    multiline,
  };
}

/** Decodes the escape at `at` (a backslash); leaves the cursor after it. */
function escape(s: Scanner, at: number): string {
  const c = s.char(at + 1);
  const simple = ESCAPES[c];
  if (simple !== undefined) {
    s.pos = at + 2;
    return simple;
  }
  const digits = HEX_ESCAPES[c];
  if (digits !== undefined) {
    const hex = /^[0-9a-fA-F]*/.exec(s.src.slice(at + 2, at + 2 + digits))
      ?.[0] ?? "";
    const code = hex.length === digits ? parseInt(hex, 16) : -1;
    if (code >= 0 && code <= 0x10ffff) {
      s.pos = at + 2 + digits;
      return String.fromCodePoint(code);
    }
    s.error(
      at,
      `Invalid escape "\\${c}${hex}": use exactly ${digits} hex digits for a code point up to 10FFFF`,
    );
    s.pos = at + 2 + hex.length;
    return "";
  }
  s.error(
    at,
    `Invalid escape "\\${c}" in double quotes: write "\\\\" for a backslash, or use single quotes`,
  );
  s.pos = at + 2;
  return "";
}

/** Resolves plain text per the YAML 1.2 core schema (as the `yaml` package does). */
export function resolvePlain(text: string): YamlScalarValue {
  if (/^(?:~|[Nn]ull|NULL)?$/.test(text)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(text)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(text)) return false;
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^[-+]?[0-9]+$/.test(text)) return parseInt(text, 10);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) {
    return text.startsWith("-") ? -Infinity : Infinity;
  }
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(text)) {
    return parseFloat(text);
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(text)) return parseFloat(text);
  return text;
}
