/**
 * parseYaml()'s syntax errors: each at its line and column, in one sentence,
 * several at once; the nesting bound; bounded work on hostile input. Cases
 * `yaml` accepts are marked: YAML the config reader does not support.
 */

import assert from "node:assert/strict";
import { parseYaml, YAML_DEPTH_MAX } from "../../src/yaml/parse.ts";
import { theirs } from "./_compare.ts";

interface ErrorCase {
  text: string;
  line: number;
  column: number;
  message: RegExp;
  /** True when `yaml` accepts it: YAML we do not support. */
  unsupported?: true;
}

/** One syntax error each, at its line and column. */
const ERRORS: Record<string, ErrorCase> = {
  "a tab in the indentation": {
    text: "a:\n\tb: 1\n",
    line: 2,
    column: 1,
    message: /^Tabs are not allowed for indentation: use spaces$/,
  },
  "a line indented past its siblings": {
    text: "a:\n  b: 1\n   c: 2\n",
    line: 3,
    column: 4,
    message: /^Unexpected indentation: align this line/,
  },
  "a list item among mapping keys": {
    text: "a:\n  b: 1\n  - c\n",
    line: 3,
    column: 3,
    message: /^A list item cannot sit among the keys of a mapping/,
  },
  "an unclosed double quote": {
    text: 'a: "x\nb: 1\n',
    line: 1,
    column: 4,
    message: /^This quoted text is not closed: add the closing "/,
  },
  "an unclosed single quote at the end": {
    text: "a: 'x",
    line: 1,
    column: 4,
    message: /^This quoted text is not closed: add the closing '/,
  },
  "an unclosed flow list at the end": {
    text: "a: [1, 2",
    line: 1,
    column: 4,
    message: /^This flow list is not closed: add "\]"$/,
  },
  "an unclosed flow mapping before a less indented line": {
    text: "a:\n  - {b: 1\n  - c\n",
    line: 3,
    column: 3,
    message:
      /^The flow mapping opened on line 2 is not closed before this line/,
  },
  "a duplicate key in a block mapping": {
    text: "a: 1\nb: 2\na: 3\n",
    line: 3,
    column: 1,
    message: /^Duplicate key "a": it is already set on line 1$/,
  },
  "a duplicate key in a flow mapping": {
    text: "x: {a: 1, b: 2,\n  a: 3}\n",
    line: 2,
    column: 3,
    message: /^Duplicate key "a": it is already set on line 1$/,
  },
  "a second document": {
    text: "a: 1\n---\nb: 2\n",
    line: 2,
    column: 1,
    message: /^A config file holds one YAML document/,
  },
  "content after the document end": {
    text: "a: 1\n...\nb: 2\n",
    line: 3,
    column: 1,
    message: /^A config file holds one YAML document/,
  },
  "a tag": {
    text: "a: !!str 1\n",
    line: 1,
    column: 4,
    message: /^Tags such as "!!str" are not supported/,
    unsupported: true,
  },
  "a directive": {
    text: "%YAML 1.2\n---\na: 1\n",
    line: 1,
    column: 1,
    message: /^Directives such as "%YAML" are not supported/,
    unsupported: true,
  },
  "an explicit key": {
    text: "? a\n",
    line: 1,
    column: 1,
    message: /^Explicit keys \("\? "\) are not supported/,
    unsupported: true,
  },
  "a key without a colon": {
    text: "node:\n  id: a\n  listen 127.0.0.1\n",
    line: 3,
    column: 3,
    message:
      /^Expected "key: value" here, found "listen 127.0.0.1" without ":"/,
  },
  "text after a closed quote": {
    text: 'a: "x" y\n',
    line: 1,
    column: 8,
    message: /^Unexpected text after the closing quote/,
  },
  "text after a closed flow list": {
    text: "a: [1] x\n",
    line: 1,
    column: 8,
    message: /^Unexpected text after the closing "\]"/,
  },
  "a mapping on its key's line": {
    text: "a: b: c\n",
    line: 1,
    column: 4,
    message: /^A nested mapping cannot start on the line of its key/,
  },
  "a list on its key's line": {
    text: "a: - b\n",
    line: 1,
    column: 4,
    message: /^A list cannot start on the line of its key/,
  },
  "a flow list as a key": {
    text: "[a]: 1\n",
    line: 1,
    column: 4,
    message: /^Keys must be plain or quoted text, not a list or mapping$/,
    unsupported: true,
  },
  "an unknown alias": {
    text: "a: *x\n",
    line: 1,
    column: 4,
    message: /^Unknown alias "\*x": define "&x" before using it$/,
  },
  "an alias inside its own anchor": {
    text: "a: &x\n  b: *x\n",
    line: 2,
    column: 6,
    message: /^The alias "\*x" is inside the node it names$/,
    unsupported: true,
  },
  "an invalid escape": {
    text: 'a: "\\q"\n',
    line: 1,
    column: 5,
    message: /^Invalid escape "\\q" in double quotes/,
  },
  "a control character": {
    text: "a: b\u0007\n",
    line: 1,
    column: 5,
    message: /^The control character U\+0007 is not allowed/,
    unsupported: true,
  },
  "a reserved character": {
    text: "a: @x\n",
    line: 1,
    column: 4,
    message: /^A value cannot start with "@": quote it$/,
  },
  "a missing comma in a flow list": {
    text: '["a" "b"]\n',
    line: 1,
    column: 6,
    message: /^Missing "," between the entries$/,
  },
  "an empty flow entry": {
    text: "[a, , b]\n",
    line: 1,
    column: 5,
    message: /^Unexpected ",": an entry is missing before it$/,
  },
  "a wrong closing bracket": {
    text: "[a}\n",
    line: 1,
    column: 3,
    message: /^Unexpected "}": close this list with "\]"$/,
  },
  "text after a block scalar indicator": {
    text: "a: |x\n  t\n",
    line: 1,
    column: 5,
    message:
      /^Only "-", "\+", an indentation digit and a comment may follow "\|"/,
  },
  "a mapping on the --- line": {
    text: "--- a: 1\n",
    line: 1,
    column: 5,
    message: /^A mapping cannot start on the "---" line/,
  },
};

for (const [name, bad] of Object.entries(ERRORS)) {
  Deno.test(`parseYaml() reports ${name} at line ${bad.line}, column ${bad.column}`, () => {
    const doc = parseYaml(bad.text);
    assert.equal(doc.root, null);
    const first = doc.errors[0];
    assert.ok(first !== undefined, JSON.stringify(bad.text));
    assert.match(first.message, bad.message);
    assert.deepEqual(doc.linePos(first.offset), {
      line: bad.line,
      col: bad.column,
    });
    assert.equal(theirs(bad.text).ok, bad.unsupported === true);
  });
}

Deno.test("parseYaml() reports several errors of a text at once, in order", () => {
  const doc = parseYaml('a: 1\na: 2\nb: "x" y\n\tc: 3\nd: [1\n');
  assert.deepEqual(
    doc.errors.map((e) => doc.linePos(e.offset).line),
    [2, 3, 4, 5],
  );
  for (const error of doc.errors) {
    assert.match(error.message, /^[A-Z][^\n]*[^.]$/, "one sentence");
  }
});

Deno.test(`parseYaml() accepts ${YAML_DEPTH_MAX} levels of nesting and reports more`, () => {
  const flow = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  const block = (depth: number) =>
    Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}k${i}:`)
      .join("\n") + " x\n";
  for (const text of [flow(YAML_DEPTH_MAX), block(YAML_DEPTH_MAX)]) {
    assert.deepEqual(parseYaml(text).errors, []);
  }
  for (const text of [flow(YAML_DEPTH_MAX + 1), block(YAML_DEPTH_MAX + 1)]) {
    const errors = parseYaml(text).errors;
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", /^Nesting deeper than 64 levels/);
  }
});

Deno.test("parseYaml() ends quickly with errors on hostile input", () => {
  const hostile = [
    "[".repeat(100_000),
    "{a: ".repeat(20_000),
    "- ".repeat(50_000),
    "a: " + '"'.repeat(99_999),
    "a:\n" + " a\n".repeat(30_000) + "\tb",
    Array.from({ length: 3_000 }, (_, i) => `${" ".repeat(i)}k:`).join("\n"),
    "a: &a [" + "*a, ".repeat(30_000) + "]",
    "k: v\n".repeat(20_000),
    "\u0000".repeat(100_000),
  ];
  for (const text of hostile) {
    const started = performance.now();
    const doc = parseYaml(text);
    const elapsedMs = performance.now() - started;
    assert.ok(doc.errors.length > 0, text.slice(0, 40));
    assert.ok(doc.errors.length <= 51, `${doc.errors.length} errors`);
    assert.ok(elapsedMs < 2_000, `${elapsedMs} ms for ${text.slice(0, 40)}`);
  }
});
