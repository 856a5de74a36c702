/**
 * clustd's own YAML reader for config files: text in, a tree of mapping,
 * sequence and scalar nodes with source offsets out, or every syntax error
 * with its offset. It covers what operators write in a config (block and flow
 * collections, plain, quoted and block scalars, comments, anchors and
 * aliases) and reports the rest (tags, explicit keys, several documents) as
 * unsupported. This file owns the document level (`---`, `...`, directives,
 * one document only). It never throws and its work is bounded by the text's
 * length and YAML_DEPTH_MAX. It exists so the daemon loads no npm package.
 */

import { AFTER_MARKER, blockNode, LINE_START } from "./_yaml_block.ts";
import { BOM, checkCharacters, Scanner, YamlAbort } from "./_yaml_scanner.ts";

export { YAML_DEPTH_MAX } from "./_yaml_scanner.ts";

/** A scalar's value per the YAML 1.2 core schema. */
export type YamlScalarValue = string | number | boolean | null;

/** A scalar node; `offset` is its first character (a quote or `|` included). */
export interface YamlScalar {
  readonly kind: "scalar";
  readonly value: YamlScalarValue;
  readonly style: "plain" | "single" | "double" | "literal" | "folded";
  readonly offset: number;
  readonly end: number;
}

/** One `key: value` of a mapping. */
export interface YamlPair {
  readonly key: YamlScalar;
  readonly value: YamlNode;
}

/** A mapping; `offset` is its first key (block) or its `{` (flow). */
export interface YamlMap {
  readonly kind: "map";
  readonly pairs: readonly YamlPair[];
  readonly offset: number;
  readonly end: number;
}

/** A sequence; `offset` is its first `-` (block) or its `[` (flow). */
export interface YamlSeq {
  readonly kind: "seq";
  readonly items: readonly YamlNode[];
  readonly offset: number;
  readonly end: number;
}

/** Any node. Aliases are resolved: `*a` is the very node `&a` marks. */
export type YamlNode = YamlScalar | YamlMap | YamlSeq;

/** A syntax error at a source offset. */
export interface YamlError {
  readonly offset: number;
  readonly message: string;
}

/** A 1-based line and column. */
export interface LinePos {
  line: number;
  col: number;
}

/** The result of parseYaml(): a root (null when empty) or errors. */
export interface YamlDocument {
  /** The root node; null for an empty document or when there are errors. */
  readonly root: YamlNode | null;
  /** Syntax errors in source order; empty when the text is valid. */
  readonly errors: readonly YamlError[];
  /** Turns an offset into a 1-based line and column. */
  linePos(offset: number): LinePos;
}

/** Parses one YAML document; never throws. */
export function parseYaml(text: string): YamlDocument {
  const lines = new LineIndex(text);
  const scanner = new Scanner(text);
  let root: YamlNode | null = null;
  try {
    checkCharacters(scanner);
    root = parseDocument(scanner);
  } catch (error: unknown) {
    if (!(error instanceof YamlAbort)) {
      // A parser bug must not crash the config loader with a stack trace.
      scanner.errors.push({
        offset: Math.min(scanner.pos, text.length),
        message:
          `The YAML reader failed here (a clustd bug, please report it): ${
            error instanceof Error ? error.message : String(error)
          }`,
      });
    }
  }
  const errors = [...scanner.errors].sort((a, b) => a.offset - b.offset);
  return {
    root: errors.length === 0 ? root : null,
    errors,
    linePos: (offset) => lines.linePos(offset),
  };
}

/** Parses the one document of the text: the root node, or null when empty. */
function parseDocument(s: Scanner): YamlNode | null {
  if (s.char(0) === BOM) s.pos = 1;
  let line = s.peekLine();
  while (line !== null && line.indent === 0 && s.char(line.content) === "%") {
    s.error(
      line.content,
      'Directives such as "%YAML" are not supported: remove this line',
    );
    s.pos = s.lineEnd(line.content);
    line = s.peekLine();
  }
  let root: YamlNode | null = null;
  if (line?.marker === "---") {
    s.pos = line.content + 3;
    if (s.atLineRest()) s.pos = s.lineEnd(s.pos);
    else {
      s.skipBlanks();
      root = blockNode(s, -1, s.column(s.pos), AFTER_MARKER);
    }
    line = s.peekLine();
  }
  if (root === null && line !== null && line.marker === null) {
    s.enterLine(line);
    root = blockNode(s, -1, line.indent, LINE_START);
    line = s.peekLine();
  }
  if (line?.marker === "...") {
    s.pos = line.content + 3;
    s.finishLine('Only a comment may follow "..." on its line');
    line = s.peekLine();
    if (line !== null) {
      s.error(
        line.content,
        'A config file holds one YAML document: remove everything after "..."',
      );
    }
  } else if (line?.marker === "---") {
    s.error(
      line.content,
      'A config file holds one YAML document: remove this "---" and what follows',
    );
  } else if (line !== null) {
    s.error(
      line.content,
      "This line is outside the document's structure: check its indentation",
    );
  }
  return root;
}

/** The value of `key` in a mapping, or undefined when absent. */
export function mapGet(map: YamlMap, key: string): YamlNode | undefined {
  return map.pairs.find((pair) => pair.key.value === key)?.value;
}

/** Offsets of line starts, for offset → line and column. */
export class LineIndex {
  readonly #starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i += 1) {
      if (text.charCodeAt(i) === 0x0a) this.#starts.push(i + 1);
    }
  }

  /** 1-based line and column of `offset` (as the `yaml` package counts). */
  linePos(offset: number): LinePos {
    let low = 0;
    let high = this.#starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.#starts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, col: offset - (this.#starts[low] ?? 0) + 1 };
  }
}
