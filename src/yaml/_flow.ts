/**
 * YAML flow collections (`[a, b]`, `{a: 1, b: x}`, possibly over several
 * lines) and the duplicate-key rule shared with block mappings. Reads through
 * the Scanner; every loop consumes input, so any text ends in bounded time.
 */

import type { YamlMap, YamlNode, YamlPair, YamlScalar } from "./types.ts";
import { plainScalar, quotedScalar } from "./_scalar.ts";
import { FLOW_INDICATORS, nullScalar, type Scanner } from "./_scanner.ts";

/** Keys seen in one mapping, for the duplicate-key rule. */
export type KeySet = Map<unknown, YamlScalar>;

/** Adds `pair` unless its key repeats one of `seen` (then reports it). */
export function addPair(
  s: Scanner,
  pairs: YamlPair[],
  seen: KeySet,
  pair: YamlPair,
): void {
  const value = pair.key.value;
  const first = seen.get(value);
  if (first !== undefined) {
    s.error(
      pair.key.offset,
      `Duplicate key ${
        JSON.stringify(String(value ?? ""))
      }: it is already set on line ${s.lineOf(first.offset)}`,
    );
    return;
  }
  // NaN keys never equal each other, as in the `yaml` package.
  if (typeof value !== "number" || !Number.isNaN(value)) {
    seen.set(value, pair.key);
  }
  pairs.push(pair);
}

/**
 * Reads `[...]` or `{...}` at the cursor; lines must be indented past
 * `parentIndent`, except an `outermost` collection's closing bracket.
 */
export function flowCollection(
  s: Scanner,
  parentIndent: number,
  outermost = true,
): YamlNode {
  const open = s.pos;
  const isMap = s.char(open) === "{";
  const close = isMap ? "}" : "]";
  const what = isMap ? "mapping" : "list";
  s.enter(open);
  s.pos += 1;
  const items: YamlNode[] = [];
  const pairs: YamlPair[] = [];
  const seen: KeySet = new Map();
  let needEntry = true;
  for (;;) {
    if (!space(s, parentIndent, outermost ? close : "")) {
      unclosed(s, open, what, close);
      break;
    }
    const c = s.char();
    if (c === close) {
      s.pos += 1;
      break;
    }
    if (c === "]" || c === "}") {
      s.error(s.pos, `Unexpected "${c}": close this ${what} with "${close}"`);
      s.pos += 1;
      break;
    }
    if (c === ",") {
      if (needEntry) {
        s.error(s.pos, `Unexpected ",": an entry is missing before it`);
      }
      s.pos += 1;
      needEntry = true;
      continue;
    }
    if (!needEntry) s.error(s.pos, `Missing "," between the entries`);
    const before = s.pos;
    if (isMap) mapEntry(s, parentIndent, pairs, seen);
    else items.push(seqEntry(s, parentIndent));
    needEntry = false;
    if (s.pos === before) {
      s.error(s.pos, `Unexpected ${JSON.stringify(c)}`);
      s.pos += 1;
    }
  }
  s.leave();
  const end = s.pos;
  if (isMap) {
    const map: YamlMap = { kind: "map", pairs, offset: open, end };
    return map;
  }
  return { kind: "seq", items, offset: open, end };
}

function unclosed(s: Scanner, open: number, what: string, close: string) {
  if (s.pos >= s.src.length) {
    s.error(open, `This flow ${what} is not closed: add "${close}"`);
  } else {
    s.error(
      s.peekLine()?.content ?? s.pos,
      `The flow ${what} opened on line ${
        s.lineOf(open)
      } is not closed before this line: add "${close}" (or indent this line more)`,
    );
  }
}

function seqEntry(s: Scanner, parentIndent: number): YamlNode {
  const node = flowNode(s, parentIndent);
  const colon = s.pos;
  if (space(s, parentIndent) && s.char() === ":") {
    s.error(
      colon,
      'A "key: value" pair directly inside [ ] is not supported: write it as { key: value }',
    );
    s.pos += 1;
    if (space(s, parentIndent) && !",]}".includes(s.char())) {
      flowNode(s, parentIndent);
    }
  }
  return node;
}

function mapEntry(
  s: Scanner,
  parentIndent: number,
  pairs: YamlPair[],
  seen: KeySet,
): void {
  const key = flowKey(s, parentIndent);
  let value: YamlNode = nullScalar(s.pos);
  if (space(s, parentIndent) && s.char() === ":") {
    s.pos += 1;
    value = nullScalar(s.pos);
    if (space(s, parentIndent) && !",]}".includes(s.char())) {
      value = flowNode(s, parentIndent);
    }
  }
  if (key !== null) addPair(s, pairs, seen, { key, value });
}

/** A key inside `{ }`: plain or quoted text; anything else is reported. */
function flowKey(s: Scanner, parentIndent: number): YamlScalar | null {
  const start = s.pos;
  const c = s.char();
  if (c === "[" || c === "{" || c === "*" || c === "?") {
    s.error(start, "Keys must be plain or quoted text");
    if (c === "?") s.pos += 1;
    else flowNode(s, parentIndent);
    return null;
  }
  if (c === ":" && s.isIndicator(start, true)) {
    s.error(start, 'A key is missing before ":"');
    return null;
  }
  const node = flowNode(s, parentIndent);
  return node.kind === "scalar" ? node : null;
}

/** One node inside a flow collection. */
export function flowNode(s: Scanner, parentIndent: number): YamlNode {
  const anchor = s.properties(true);
  if (anchor !== null && s.isEnd(s.pos) && !space(s, parentIndent)) {
    return nullScalar(s.pos);
  }
  s.beginAnchor(anchor);
  const c = s.char();
  let node: YamlNode;
  if (c === "[" || c === "{") node = flowCollection(s, parentIndent, false);
  else if (c === "*") {
    if (anchor !== null) s.error(s.pos, "An alias cannot have an anchor");
    node = s.alias();
  } else if (c === '"' || c === "'") node = quotedScalar(s, parentIndent).node;
  else if (c === "" || FLOW_INDICATORS.includes(c) || s.isEnd(s.pos)) {
    node = nullScalar(s.pos);
  } else if (s.isIndicator(s.pos, true)) {
    s.error(s.pos, `A value cannot start with ${JSON.stringify(c)}: quote it`);
    s.pos += 1;
    node = nullScalar(s.pos);
  } else {
    node = plainScalar(s, parentIndent, true).node;
  }
  s.endAnchor(anchor, node);
  return node;
}

/**
 * Skips blanks, line breaks and comments inside a flow collection. False
 * (cursor left at the last line break) when the next line is not indented
 * past `parentIndent` (unless it starts with `close` at `parentIndent`: a
 * `[` may end at its key's indentation), is a document marker, or the text ends.
 */
function space(s: Scanner, parentIndent: number, close = ""): boolean {
  for (;;) {
    s.skipBlanks();
    const c = s.char();
    if (c === "#" && (s.pos === 0 || s.isBlankOrEnd(s.pos - 1))) {
      s.pos = s.lineEnd(s.pos);
      continue;
    }
    if (s.pos >= s.src.length) return false;
    if (!s.isBreak(s.pos)) return true;
    const lineBreak = s.pos;
    const start = s.afterBreak(lineBreak);
    const line = s.peekLineAt(start);
    if (line === null) {
      s.pos = s.src.length;
      return false;
    }
    const closing = close !== "" && s.char(line.content) === close &&
      line.indent >= parentIndent;
    if (line.marker !== null || (line.indent <= parentIndent && !closing)) {
      s.pos = lineBreak;
      return false;
    }
    s.pos = line.content;
  }
}
