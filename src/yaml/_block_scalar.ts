/**
 * YAML block scalars for the config reader: literal `|` and folded `>` text
 * with chomping (`-`, `+`) and an optional indentation digit. The lines are
 * taken, trimmed and folded exactly as the `yaml` package does it (including
 * its handling of trailing blank lines), so values never change with the
 * parser. Reads whole lines through the Scanner; stops at the first line
 * indented less than the text.
 */

import type { YamlScalar } from "./types.ts";
import { type Scanner, TAB_INDENT } from "./_scanner.ts";

/** How trailing line breaks are kept: `-` strip, default clip, `+` keep. */
type Chomp = "strip" | "clip" | "keep";

/** One line of the text: its leading spaces and the rest. */
type RawLine = [spaces: string, rest: string];

/** The lines a block scalar spans. */
interface Region {
  lines: RawLine[];
  /** True when the last line ends with a line break. */
  terminated: boolean;
  /** Leading spaces of the first line with text, or -1. */
  firstIndent: number;
}

/** Reads a `|` or `>` block scalar whose text is indented more than `parentIndent`. */
export function blockScalar(s: Scanner, parentIndent: number): YamlScalar {
  const start = s.pos;
  const folded = s.char(start) === ">";
  let chomp: Chomp = "clip";
  let explicit = 0;
  let i = start + 1;
  for (let round = 0; round < 2; round += 1) {
    const c = s.char(i);
    if ((c === "-" || c === "+") && chomp === "clip") {
      chomp = c === "-" ? "strip" : "keep";
    } else if (c >= "1" && c <= "9" && explicit === 0) explicit = Number(c);
    else break;
    i += 1;
  }
  s.pos = i;
  s.finishLine(
    `Only "-", "+", an indentation digit and a comment may follow "${
      folded ? ">" : "|"
    }": the text starts on the next line`,
  );
  const base = Math.max(parentIndent, 0);
  const region = blockRegion(
    s,
    parentIndent,
    explicit > 0 ? base + explicit : -1,
  );
  const lines = sourceLines(region, chomp);
  const value = blockValue(lines, {
    folded,
    chomp,
    trim: base + explicit,
    explicit,
  });
  const style = folded ? "folded" : "literal";
  return { kind: "scalar", value, style, offset: start, end: s.pos };
}

/**
 * The lines after the header that belong to the scalar: blank lines and
 * lines indented at least as much as the first line with text (or `indent`,
 * when given). Leaves the cursor at the end of the last one.
 */
function blockRegion(s: Scanner, parentIndent: number, given: number): Region {
  const lines: RawLine[] = [];
  let indent = given;
  let firstIndent = -1;
  let terminated = true;
  let leading = { at: -1, spaces: 0 };
  let at = s.afterBreak(s.pos);
  while (at < s.src.length) {
    let spaces = 0;
    while (s.char(at + spaces) === " ") spaces += 1;
    const eol = s.lineEnd(at);
    const blank = at + spaces === eol;
    checkTab(s, at + spaces, indent < 0 || spaces < indent);
    if (blank && indent < 0 && spaces > leading.spaces) {
      leading = { at, spaces };
    }
    if (!blank) {
      if (firstIndent < 0) firstIndent = spaces;
      if (indent < 0) {
        indent = spaces;
        if (indent > parentIndent && leading.spaces > indent) {
          s.error(
            leading.at,
            'This empty line is indented more than the text below it: remove its spaces or give the indentation, e.g. "|2"',
          );
        }
      }
      const marker = s.markerAt(at) !== null;
      if (spaces < indent || indent <= parentIndent || marker) break;
    }
    lines.push([s.src.slice(at, at + spaces), s.src.slice(at + spaces, eol)]);
    s.pos = eol;
    terminated = eol < s.src.length;
    at = s.afterBreak(eol);
  }
  return { lines, terminated, firstIndent };
}

/** Reports a tab indenting an empty or comment line (`yaml` refuses it). */
function checkTab(s: Scanner, at: number, inIndentation: boolean): void {
  if (s.char(at) !== "\t" || !inIndentation) return;
  const text = s.afterBlanks(at);
  if (s.isEnd(text) || s.char(text) === "#") s.error(at, TAB_INDENT);
}

/**
 * The region's lines as `yaml` splits its source: without `+`, trailing
 * blank lines not indented past the first text line are dropped; a final
 * line break adds an empty last line.
 */
function sourceLines(region: Region, chomp: Chomp): RawLine[] {
  const lines = [...region.lines];
  let terminated = region.terminated;
  if (chomp !== "keep") {
    for (let last = lines.at(-1); last !== undefined; last = lines.at(-1)) {
      if (last[1] !== "" || last[0].length > region.firstIndent) break;
      lines.pop();
      terminated = true;
    }
  }
  if (lines.length > 0 && terminated) lines.push(["", ""]);
  return lines;
}

interface Style {
  folded: boolean;
  chomp: Chomp;
  /** Indentation removed from each line when `explicit` is set. */
  trim: number;
  explicit: number;
}

/** Joins (`|`) or folds (`>`) the lines and applies chomping. */
function blockValue(lines: RawLine[], style: Style): string {
  let end = lines.length;
  while (end > 0 && lines[end - 1]?.[1] === "") end -= 1;
  if (end === 0) {
    const keep = style.chomp === "keep" && lines.length > 0;
    return keep ? "\n".repeat(Math.max(1, lines.length - 1)) : "";
  }
  let trim = style.trim;
  let first = 0;
  for (const [index, [spaces, rest]] of lines.entries()) {
    if (rest !== "") {
      if (style.explicit === 0) trim = spaces.length;
      first = index;
      break;
    }
    if (style.explicit === 0) trim = Math.max(trim, spaces.length);
  }
  // Trailing blank lines indented past the text are text too.
  for (let i = lines.length - 1; i >= end; i -= 1) {
    if ((lines[i]?.[0].length ?? 0) > trim) {
      end = i + 1;
      break;
    }
  }
  let value = "";
  for (const [spaces] of lines.slice(0, first)) {
    value += `${spaces.slice(trim)}\n`;
  }
  value += style.folded
    ? foldLines(lines.slice(first, end), trim)
    : lines.slice(first, end).map(([sp, rest]) => sp.slice(trim) + rest)
      .join("\n");
  if (style.chomp === "keep") {
    for (const [spaces] of lines.slice(end)) value += `\n${spaces.slice(trim)}`;
    if (!value.endsWith("\n")) value += "\n";
  } else if (style.chomp === "clip") value += "\n";
  return value;
}

/** Folds `>` lines: a single break between text lines becomes a space. */
function foldLines(lines: RawLine[], trim: number): string {
  let value = "";
  let separator = "";
  let moreIndented = false;
  for (const [spaces, rest] of lines) {
    if (spaces.length > trim || rest.startsWith("\t")) {
      if (separator === " ") separator = "\n";
      else if (!moreIndented && separator === "\n") separator = "\n\n";
      value += separator + spaces.slice(trim) + rest;
      separator = "\n";
      moreIndented = true;
    } else if (rest === "") {
      if (separator === "\n") value += "\n";
      else separator = "\n";
    } else {
      value += separator + rest;
      separator = " ";
      moreIndented = false;
    }
  }
  return value;
}
