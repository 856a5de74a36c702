/**
 * The block structure of a YAML document for the config reader: block
 * mappings and sequences by indentation (compact `- key: v` maps, `- ` lists
 * at their key's indentation), and dispatch to flow collections and scalars. After an error it skips the
 * offending line and its children and goes on, so one pass reports many
 * errors. Every loop consumes at least one line or character.
 */

import type {
  YamlMap,
  YamlNode,
  YamlPair,
  YamlScalar,
  YamlSeq,
} from "./types.ts";
import { addPair, flowCollection, type KeySet } from "./_flow.ts";
import { blockScalar } from "./_block_scalar.ts";
import { plainScalar, quotedScalar } from "./_scalar.ts";
import { type Line, nullScalar, type Scanner, TAB_INDENT } from "./_scanner.ts";

/** Where an inline node sits, which decides what may start there. */
export interface Place {
  /** Why a block sequence may not start here, or null when it may. */
  seq: string | null;
  /** Why a block mapping may not start here, or null when it may. */
  map: string | null;
  /** True when a `- ` list at the owner's own indentation is this node. */
  seqAtIndent: boolean;
  /** Why an anchor or tag may not start here, or null when it may. */
  props: string | null;
}

/** At the start of a line: anything may start. */
export const LINE_START: Place = {
  seq: null,
  map: null,
  seqAtIndent: false,
  props: null,
};

/** After `- `: compact lists and mappings may start. */
const AFTER_DASH: Place = { ...LINE_START };

/** After `-` and a tab: only scalars, flow collections and aliases (a tab
 * would indent a compact collection, which `yaml` refuses too). */
const AFTER_DASH_TAB: Place = {
  seq: TAB_INDENT,
  map: TAB_INDENT,
  seqAtIndent: false,
  props: TAB_INDENT,
};

/** After `key: `: only scalars, flow collections and aliases. */
const AFTER_KEY: Place = {
  seq:
    'A list cannot start on the line of its key: put each "- item" on its own line, indented',
  map:
    "A nested mapping cannot start on the line of its key: put it on the next line, indented",
  seqAtIndent: true,
  props: null,
};

/** At the start of the line below an anchor: no second anchor. */
const ANCHORED: Place = {
  ...LINE_START,
  props: "A node can have one anchor only",
};

/** After `---`: only scalars and flow collections. */
export const AFTER_MARKER: Place = {
  seq: 'A list cannot start on the "---" line: put it on the next line',
  map: 'A mapping cannot start on the "---" line: put it on the next line',
  seqAtIndent: false,
  props: null,
};

/**
 * A node starting at the cursor, `column` being its indentation; its lines
 * must be indented more than `parentIndent`.
 */
export function blockNode(
  s: Scanner,
  parentIndent: number,
  column: number,
  place: Place,
): YamlNode {
  const start = s.pos;
  const c = s.char();
  if (s.atDash()) {
    if (place.seq === null) return blockSeq(s, column);
    return skipInline(s, place.seq);
  }
  if ((c === "?" || c === ":") && s.isBlankOrEnd(start + 1)) {
    return skipInline(
      s,
      c === "?"
        ? 'Explicit keys ("? ") are not supported: write "key: value"'
        : 'A key is missing before ":"',
    );
  }
  if ((c === "&" || c === "!") && place.props !== null) {
    s.error(start, place.props);
  }
  const anchor = s.properties(false);
  if (s.pos > start && s.atLineRest()) {
    // `key: &name` with the node on the following lines.
    s.pos = s.lineEnd(s.pos);
    s.beginAnchor(anchor);
    s.enter(start);
    const value = nextLinesNode(s, parentIndent, s.pos, {
      seqAtIndent: place.seqAtIndent,
      anchored: anchor !== null,
    });
    s.leave();
    s.endAnchor(anchor, value);
    return value;
  }
  return inline(s, { parentIndent, column, place, anchor });
}

interface InlineAt {
  parentIndent: number;
  column: number;
  place: Place;
  anchor: string | null;
}

/** The content of a node after its properties, on the cursor's line. */
function inline(s: Scanner, at: InlineAt): YamlNode {
  const start = s.pos;
  const c = s.char();
  s.beginAnchor(at.anchor);
  if (c === "|" || c === ">") {
    const scalar = blockScalar(s, at.parentIndent);
    s.endAnchor(at.anchor, scalar);
    return scalar;
  }
  let done: YamlNode;
  let after =
    'Unexpected text after the value: quote the whole value or add "#" before a comment';
  if (c === "[" || c === "{") {
    done = flowCollection(s, at.parentIndent);
    after = `Unexpected text after the closing "${c === "[" ? "]" : "}"}"`;
  } else if (c === "*") {
    if (at.anchor !== null) s.error(start, "An alias cannot have an anchor");
    done = s.alias();
  } else if (c === '"' || c === "'") {
    const quoted = quotedScalar(s, at.parentIndent);
    if (!quoted.multiline && colonAfter(s) >= 0) {
      s.pos = colonAfter(s);
      return keyed(s, quoted.node, at);
    }
    done = quoted.node;
    after = "Unexpected text after the closing quote: quote the whole value";
  } else if (s.isIndicator(start, false)) {
    s.endAnchor(at.anchor, nullScalar(start));
    return skipInline(
      s,
      `A value cannot start with ${JSON.stringify(c)}: quote it`,
    );
  } else {
    const plain = plainScalar(s, at.parentIndent, false);
    if (plain.key) return keyed(s, plain.node, at);
    done = plain.node;
  }
  s.endAnchor(at.anchor, done);
  if (colonAfter(s) >= 0) {
    after = done.kind === "scalar"
      ? "Keys must be plain or quoted text on one line"
      : "Keys must be plain or quoted text, not a list or mapping";
  }
  s.finishLine(after);
  return done;
}

/** A key was read inline: start a block mapping at `at.column` if allowed here. */
function keyed(s: Scanner, key: YamlScalar, at: InlineAt): YamlNode {
  s.endAnchor(at.anchor, key);
  if (at.place.map !== null) return skipInline(s, at.place.map, key.offset);
  return blockMap(s, at.column, key);
}

/** Offset of a `:` mapping indicator after blanks at the cursor, or -1. */
function colonAfter(s: Scanner): number {
  let i = s.pos;
  while (s.isBlank(i)) i += 1;
  return s.char(i) === ":" && s.isBlankOrEnd(i + 1) ? i : -1;
}

/** Reports `message` and skips the rest of the line; the node reads as null. */
function skipInline(s: Scanner, message: string, at = s.pos): YamlScalar {
  s.error(at, message);
  s.pos = s.lineEnd(s.pos);
  return nullScalar(at);
}

/** What may follow on the lines below a `key:`, a `- ` or an anchor. */
interface Below {
  /** A `- ` list at the owner's own indentation is this node. */
  seqAtIndent: boolean;
  /** The node already has an anchor (a second one is an error). */
  anchored: boolean;
}

/**
 * The node on the lines after the cursor's line when they are indented more
 * than `indent` (or a `- ` list at `indent`, see Below); else null at
 * `emptyAt`.
 */
function nextLinesNode(
  s: Scanner,
  indent: number,
  emptyAt: number,
  below: Below,
): YamlNode {
  const line = s.peekLine();
  if (
    line !== null && line.marker === null &&
    (line.indent > indent ||
      (below.seqAtIndent && line.indent === indent && s.atDash(line.content)))
  ) {
    s.enterLine(line);
    const place = below.anchored ? ANCHORED : LINE_START;
    return blockNode(s, indent, line.indent, place);
  }
  checkBlankTabs(s, indent);
  return nullScalar(emptyAt);
}

/**
 * Reports a tab indenting a blank line before the next content when a value
 * turned out empty (`yaml` refuses it there).
 */
function checkBlankTabs(s: Scanner, indent: number): void {
  let at = s.afterBreak(s.lineEnd(s.pos));
  while (at < s.src.length) {
    let spaces = 0;
    while (s.char(at + spaces) === " ") spaces += 1;
    const content = s.afterBlanks(at + spaces);
    if (s.isEnd(content)) {
      if (s.char(at + spaces) === "\t" && spaces <= indent) {
        s.error(at + spaces, TAB_INDENT);
        return;
      }
    } else if (s.char(content) !== "#") return;
    at = s.afterBreak(s.lineEnd(at));
  }
}

/** A block mapping at `indent` whose first key is read; the cursor is at its `:`. */
function blockMap(s: Scanner, indent: number, first: YamlScalar): YamlMap {
  s.enter(first.offset);
  const pairs: YamlPair[] = [];
  const seen: KeySet = new Map();
  let key: YamlScalar | null = first;
  for (;;) {
    if (key !== null) {
      s.pos += 1;
      const value = mapValue(s, indent, s.pos);
      addPair(s, pairs, seen, { key, value });
    }
    const line = s.peekLine();
    if (line === null || line.marker !== null || line.indent < indent) break;
    if (line.indent > indent) {
      badIndent(s, line, indent);
      key = null;
      continue;
    }
    s.enterLine(line);
    key = entryKey(s, indent);
  }
  s.leave();
  return { kind: "map", pairs, offset: first.offset, end: s.pos };
}

/** The value after `key:`: on the same line, on the lines below, or null. */
function mapValue(s: Scanner, indent: number, emptyAt: number): YamlNode {
  s.skipBlanks();
  if (s.atLineRest()) {
    s.pos = s.lineEnd(s.pos);
    return nextLinesNode(s, indent, emptyAt, {
      seqAtIndent: true,
      anchored: false,
    });
  }
  return blockNode(s, indent, s.column(s.pos), AFTER_KEY);
}

/** The key of the next entry of a block mapping, or null (reported, skipped). */
function entryKey(s: Scanner, indent: number): YamlScalar | null {
  const start = s.pos;
  const c = s.char();
  let key: YamlScalar | null = null;
  let colon = -1;
  let problem = `Expected "key: value" here, found ${snippet(s, start)}`;
  if (s.atDash()) {
    problem =
      "A list item cannot sit among the keys of a mapping: indent it under its key";
  } else if (c === "?" && s.isBlankOrEnd(start + 1)) {
    problem = 'Explicit keys ("? ") are not supported: write "key: value"';
  } else {
    const anchor = s.properties(false);
    const text = s.pos;
    if (s.char() === '"' || s.char() === "'") {
      const quoted = quotedScalar(s, indent);
      colon = quoted.multiline ? -1 : colonAfter(s);
      key = quoted.node;
    } else if (!s.isIndicator(s.pos, false)) {
      const plain = plainScalar(s, indent, false);
      colon = plain.key ? s.pos : -1;
      key = plain.node;
    }
    if (key !== null && colon >= 0) {
      s.endAnchor(anchor, key);
      s.pos = colon;
      return key;
    }
    if (key !== null) {
      problem = `Expected "key: value" here, found ${
        snippet(s, text)
      } without ":" after it`;
    }
  }
  s.error(start, problem);
  s.pos = start;
  skipEntry(s, indent);
  return null;
}

/** The start of a line's text, quoted for a message. */
function snippet(s: Scanner, at: number): string {
  const text = s.src.slice(at, s.lineEnd(at)).trim();
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/** Reports a line indented past its siblings and skips it with its children. */
function badIndent(s: Scanner, line: Line, indent: number): void {
  s.error(
    line.content,
    "Unexpected indentation: align this line with the entries above it",
  );
  s.pos = line.content;
  skipEntry(s, indent);
}

/** Skips the rest of the line and the lines indented more than `indent`. */
function skipEntry(s: Scanner, indent: number): void {
  s.pos = s.lineEnd(s.pos);
  let line = s.peekLine();
  while (line !== null && line.marker === null && line.indent > indent) {
    s.pos = s.lineEnd(line.content);
    line = s.peekLine();
  }
}

/** A block sequence whose first `-` is at the cursor, in column `indent`. */
function blockSeq(s: Scanner, indent: number): YamlSeq {
  const first = s.pos;
  s.enter(first);
  const items: YamlNode[] = [];
  for (;;) {
    const dash = s.pos;
    s.pos += 1;
    s.skipBlanks();
    const tab = s.src.slice(dash, s.pos).includes("\t");
    if (s.atLineRest()) {
      s.pos = s.lineEnd(s.pos);
      items.push(nextLinesNode(s, indent, dash + 1, {
        seqAtIndent: false,
        anchored: false,
      }));
    } else {
      const place = tab ? AFTER_DASH_TAB : AFTER_DASH;
      items.push(blockNode(s, indent, s.column(s.pos), place));
    }
    let line = s.peekLine();
    while (line !== null && line.marker === null && line.indent > indent) {
      badIndent(s, line, indent);
      line = s.peekLine();
    }
    if (
      line === null || line.marker !== null || line.indent < indent ||
      !s.atDash(line.content)
    ) break;
    s.enterLine(line);
  }
  s.leave();
  return { kind: "seq", items, offset: first, end: s.pos };
}
