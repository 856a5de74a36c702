/**
 * clustd's own YAML reader for config files: text in, a tree of mapping,
 * sequence and scalar nodes with source offsets out, or every syntax error
 * with its offset. It covers what operators write in a config (block and flow
 * collections, plain, quoted and block scalars, comments, anchors and
 * aliases) and reports the rest (tags, explicit keys, several documents) as
 * unsupported. This file owns the document level (`---`, `...`, directives,
 * one document only). It never throws and its work is bounded by the text's
 * length and YAML_DEPTH_MAX.
 *
 * Why no library serves: the config errors must name each key's line and
 * column. `@std/yaml` (and js-yaml, which it follows) give none and JSR is
 * unreachable here; npm `yaml` gives positions but loading it costs every CLI
 * call and the daemon the Node-compatibility layer (measured in the README's
 * "Dependencies" section). The tests compare this reader with npm `yaml` on
 * every config text the suite uses and on random input.
 */

import { AFTER_MARKER, blockNode, LINE_START } from "./_block.ts";
import { BOM, checkCharacters, Scanner, YamlAbort } from "./_scanner.ts";
import type { LinePos, YamlDocument, YamlMap, YamlNode } from "./types.ts";

export { YAML_DEPTH_MAX } from "./_scanner.ts";
export type * from "./types.ts";

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
