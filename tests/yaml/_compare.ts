/**
 * Helpers for comparing parseYaml() with the npm `yaml` package it replaced
 * (tests only): both trees as plain JS, and the start offsets of their nodes.
 */

import assert from "node:assert/strict";
import {
  isAlias,
  isMap,
  isSeq,
  type Node as TheirNode,
  parseDocument,
} from "yaml";
import { parseYaml, type YamlNode } from "../../src/yaml/parse.ts";

/** Our tree as plain JS, the way `yaml`'s toJS() builds it. */
export function toJs(
  node: YamlNode | null,
  memo = new Map<YamlNode, unknown>(),
) {
  if (node === null) return null;
  if (node.kind === "scalar") return node.value;
  if (memo.has(node)) return memo.get(node);
  if (node.kind === "seq") {
    const out: unknown[] = [];
    memo.set(node, out);
    for (const item of node.items) out.push(toJs(item, memo));
    return out;
  }
  const out: Record<string, unknown> = {};
  memo.set(node, out);
  for (const { key, value } of node.pairs) {
    out[key.value === null ? "" : String(key.value)] = toJs(value, memo);
  }
  return out;
}

/** What `yaml` makes of `text` with the options the loader used. */
export function theirs(text: string): { ok: boolean; value: unknown } {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) {
    return { ok: false, value: undefined };
  }
  try {
    const value = doc.toJS({ mapAsMap: true, maxAliasCount: 100 });
    return { ok: true, value: plainObjects(value, new Map()) };
  } catch (_error: unknown) {
    // Unresolvable aliases and alias bombs fail in toJS(): a rejection.
    return { ok: false, value: undefined };
  }
}

/**
 * `yaml`'s Maps as objects with the keys its toJS() would write (without
 * mapAsMap it warns on stderr about list keys).
 */
function plainObjects(value: unknown, memo: Map<unknown, unknown>): unknown {
  if (memo.has(value)) return memo.get(value);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    memo.set(value, out);
    for (const item of value) out.push(plainObjects(item, memo));
    return out;
  }
  if (!(value instanceof Map)) return value;
  const out: Record<string, unknown> = {};
  memo.set(value, out);
  for (const [key, item] of value) {
    out[key === null ? "" : String(key)] = plainObjects(item, memo);
  }
  return out;
}

/** Asserts parseYaml(ourText) reads as `yaml` reads `text`. */
export function assertSameAsYaml(text: string, ourText = text): void {
  const ours = parseYaml(ourText);
  assert.deepEqual(ours.errors, [], JSON.stringify(ourText));
  const yaml = theirs(text);
  assert.ok(yaml.ok, `yaml rejects ${JSON.stringify(text)}`);
  assert.deepEqual(toJs(ours.root), yaml.value, JSON.stringify(text));
}

/** Start offsets of every non-empty node, ours next to `yaml`'s. */
export function positions(text: string): { ours: number[]; yaml: number[] } {
  const ours: number[] = [];
  const yaml: number[] = [];
  const walk = (node: YamlNode, their: unknown): void => {
    if (isAlias(their)) return;
    if (node.kind !== "scalar" || node.end > node.offset) {
      ours.push(node.offset);
      yaml.push((their as TheirNode).range?.[0] ?? -1);
    }
    if (node.kind === "map" && isMap(their)) {
      node.pairs.forEach((pair, i) => {
        walk(pair.key, their.items[i]?.key);
        walk(pair.value, their.items[i]?.value);
      });
    } else if (node.kind === "seq" && isSeq(their)) {
      node.items.forEach((item, i) => walk(item, their.items[i]));
    }
  };
  const root = parseYaml(text).root;
  if (root !== null) walk(root, parseDocument(text).contents);
  return { ours, yaml };
}
