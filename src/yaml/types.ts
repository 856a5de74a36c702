/**
 * The tree parseYaml() returns: mapping, sequence and scalar nodes with their
 * source offsets, syntax errors, and the document. Types only, so the parser's
 * files can share them without importing each other in a circle.
 */

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
