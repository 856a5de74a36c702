/**
 * parseYaml() against the npm `yaml` package it replaced (imported by tests
 * only): the same values and node positions for config.example.yml, every
 * config text of the tests and one document per supported feature, and a
 * seeded fuzz of mutated configs that must never throw, and never accept a
 * text that `yaml` rejects or reads differently.
 */

import assert from "node:assert/strict";
import { LineCounter, parseDocument } from "yaml";
import { parseYaml } from "../../src/yaml/parse.ts";
import { assertSameAsYaml, positions, theirs, toJs } from "./_compare.ts";
import { TEST_CONFIGS } from "./_corpus.ts";

const EXAMPLE = Deno.readTextFileSync(
  new URL("../../config.example.yml", import.meta.url),
);

Deno.test("parseYaml() reads config.example.yml as the yaml package does", () => {
  assertSameAsYaml(EXAMPLE);
  const { ours, yaml } = positions(EXAMPLE);
  assert.ok(ours.length > 100);
  assert.deepEqual(ours, yaml);
});

Deno.test("parseYaml() agrees with the yaml package on every config in the tests", () => {
  assert.ok(TEST_CONFIGS.length > 80);
  let accepted = 0;
  for (const text of TEST_CONFIGS) {
    const ours = parseYaml(text);
    const yaml = theirs(text);
    if (ours.errors.length > 0) {
      // Ours is stricter only on what it does not support (tags, explicit
      // keys, control characters, self-referencing aliases).
      const reasons =
        /not supported|control character|inside the node it names/;
      assert.ok(
        !yaml.ok || ours.errors.some((e) => reasons.test(e.message)),
        `${JSON.stringify(text)}: ${JSON.stringify(ours.errors)}`,
      );
      continue;
    }
    accepted += 1;
    assert.ok(yaml.ok, JSON.stringify(text));
    assert.deepEqual(toJs(ours.root), yaml.value, JSON.stringify(text));
    const { ours: at, yaml: expected } = positions(text);
    assert.deepEqual(at, expected, JSON.stringify(text));
  }
  assert.ok(accepted > 70, `only ${accepted} accepted`);
});

/** One document per supported feature. */
const FEATURES: Record<string, string> = {
  "nested block mappings at any indentation":
    "a:\n  b:\n      c: 1\n      d: two words\n  e:\n   f: x\ng: 3\n",
  "block lists at their key's indentation":
    "peers:\n- a\n- b\nnext:\n- { id: c }\nlast: 1\n",
  "block lists indented under their key":
    "peers:\n    - a\n    -   b\n    -\n      c\nx: y\n",
  "compact mappings in lists":
    "drivers:\n  - type: bash\n    promote: /p.sh\n    args:\n      - -x\n  -   type: webhook\n      url: https://h/x\n",
  "compact nested lists": "- - a\n  - b\n- - - c\n",
  "flow lists and mappings":
    "a: [1, two, 'three', \"four\", [5], {six: 6}, ]\nb: {x: 1, y: [a, b], z: }\nc: []\nd: {}\ne: {a, b: }\nf: { url: ws://h:1, q: a:b }\n",
  "flow collections spanning lines":
    "peers: [\n  { id: a,\n    url: ws://h:1 },\n  b\n]\nchecks: {\n  a: 1,\n    b: 2\n}\nlast: [a,\n  b]\n",
  "plain scalars with colons, hashes and several lines":
    "url: ws://10.0.0.1:7400\nhash: a#b\ntime: 12:30\nlong: one\n  two\n\n  three\n   four\nlist:\n  - a\n    b\n",
  "single-quoted scalars":
    "a: 'it''s'\nb: ''\nc: 'one\n  two\n\n  three'\nd: '# not a comment'\n'quoted key': 1\n",
  "double-quoted scalars with escapes":
    'a: "x\\ny\\tz\\"q\\\\ \\u00e9\\x41\\U0001F600 \\/"\nb: "one\n  two\\\n  three"\nc: "  padded  "\nd: ""\n"k y": 2\n',
  "literal block scalars with chomping":
    "clip: |\n  one\n   more\n\n  two\n\nstrip: |-\n  text\n\nkeep: |+\n  text\n\nempty: |\nafter: 1\n",
  "folded block scalars with chomping":
    "clip: >\n  one\n  two\n\n  three\n    indented\n  four\nstrip: >-\n  a\n  b\nkeep: >+\n  a\n\n\nnext: 1\n",
  "block scalars with an indentation indicator and a comment":
    "a: |2 # comment\n    two spaces kept\n  b\nlist:\n  - >-\n    folded\n    item\n",
  "comments everywhere":
    "# head\na: 1 # after\n# between\nb: # after a key\n  c: [1, # inside\n    2]\n  # indented\n  d: x\n\n# tail\n",
  "document markers": "--- # start\na: 1\n... # end\n# trailing comment\n",
  "anchors and aliases":
    "base: &b { x: 1 }\nlist: &l [a, b]\ntext: &t hello\nuse:\n  - *b\n  - *l\n  - *t\n  - [*t, *b]\nnode: &n\n  k: v\nagain: *n\n",
  "YAML 1.2 core schema scalars":
    "n: [null, Null, NULL, ~, nULL]\nn2:\nb: [true, True, TRUE, false, False, FALSE, yes, no, on, tRue]\ni: [0, -0, +7, 012, 0o17, 0x1F, 1_000, 0b11, 99999999999999999999]\nf: [1.5, -.5, 1., 1e3, 2.5E-2, .inf, -.Inf, +.INF, 1.2.3]\nt: [0x, 1e, .in, -a, :b, ?c]\n",
  "quoted scalars as strings": "a: 'true'\nb: \"1\"\nc: 'null'\nd: \"~\"\n",
  "empty values": "a:\nb: ~\nc:\n  -\n  - \nd: {e: }\nf: [ ]\ng: &x\nh: 1\n",
  "keys of several kinds":
    "1: one\ntrue: yes\nnull: none\n\"a b\": 2\n'c': 3\nd e: 4\n<<: merge keys are plain keys\n",
  "top-level lists": "- a\n- b: 1\n  c: 2\n",
  "top-level scalars": "--- just text\n",
  "blanks and tabs as separators": "a:\tb\nc:   d   \ne: [\tx ,\ty ]\n",
  "a mapping indented as a whole": "  a: 1\n  b:\n    - x\n",
};

for (const [name, text] of Object.entries(FEATURES)) {
  Deno.test(`parseYaml() reads ${name} as the yaml package does`, () => {
    assertSameAsYaml(text);
    assertSameAsYaml(text.replaceAll("\n", "\r\n"));
    // `yaml` misreads a byte order mark before an indented or list line.
    assertSameAsYaml(text, `\uFEFF${text}`);
    const { ours, yaml } = positions(text);
    assert.deepEqual(ours, yaml);
  });
}

Deno.test("parseYaml() reads empty and comment-only texts as no document", () => {
  for (const text of ["", "\n\n", "# only a comment\n", "---\n", "...\n"]) {
    const doc = parseYaml(text);
    assert.deepEqual(doc.errors, [], JSON.stringify(text));
    assert.equal(doc.root, null, JSON.stringify(text));
  }
});

Deno.test("linePos() gives the line and column the yaml package gives", () => {
  const text = 'a: 1\r\nb:\n\n  - x\r\n  - "y"\nlast';
  const doc = parseYaml(text);
  const counter = new LineCounter();
  parseDocument(text, { lineCounter: counter });
  for (let offset = 0; offset <= text.length; offset += 1) {
    assert.deepEqual(doc.linePos(offset), counter.linePos(offset), `${offset}`);
  }
});

/** A small seeded PRNG (mulberry32) so a failing case replays exactly. */
function prng(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % below);
  };
}

/** Pieces a mutation inserts: YAML's significant characters and a few words. */
const PIECES = [
  ...` :-#'"[]{},|>!\t1\\?%@x~`,
  ..."  ¦\n¦\n  ¦: ¦- ¦ #¦|-¦&a ¦*a¦\r\n¦...¦---¦k: v¦\\n¦0x1¦.inf".split("¦"),
];

/** `text` with one to four random edits. */
function mutate(text: string, random: (below: number) => number): string {
  let out = text;
  for (let edits = 1 + random(4); edits > 0; edits -= 1) {
    const at = random(out.length + 1);
    const kind = random(5);
    if (kind === 0) {
      out = out.slice(0, at) + PIECES[random(PIECES.length)] + out.slice(at);
    } else if (kind === 1) {
      out = out.slice(0, at) + out.slice(at + 1 + random(8));
    } else if (kind === 2) out = out.slice(0, at);
    else if (kind === 3) {
      out = out.slice(0, at) + String.fromCharCode(random(256)) + out.slice(at);
    } else {
      const lines = out.split("\n");
      const line = random(lines.length);
      lines[line] = " ".repeat(random(4)) + (lines[line] ?? "").trimStart();
      out = lines.join("\n");
    }
  }
  return out;
}

Deno.test("parseYaml() never throws on 2000 mutations of config.example.yml and accepts only what yaml reads the same", () => {
  const random = prng(20_251_122);
  const seeds = [EXAMPLE, ...Object.values(FEATURES)];
  let accepted = 0;
  let rejected = 0;
  for (let round = 0; round < 2_000; round += 1) {
    const base = round % 4 === 3 ? seeds[random(seeds.length)] : EXAMPLE;
    const text = mutate(base ?? EXAMPLE, random);
    const doc = parseYaml(text);
    const context = `round ${round}: ${JSON.stringify(text)}`;
    for (const error of doc.errors) {
      assert.doesNotMatch(error.message, /clustd bug/, context);
      assert.ok(error.offset >= 0 && error.offset <= text.length, context);
    }
    if (doc.errors.length > 0) {
      rejected += 1;
      continue;
    }
    accepted += 1;
    const yaml = theirs(text);
    assert.ok(yaml.ok, `yaml rejects what we accept, ${context}`);
    assert.deepEqual(toJs(doc.root), yaml.value, context);
  }
  assert.ok(accepted > 300 && rejected > 300, `${accepted}/${rejected}`);
});
