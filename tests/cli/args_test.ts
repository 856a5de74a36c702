import assert from "node:assert/strict";
import {
  ArgsError,
  type FlagOptions,
  parseFlags,
} from "../../src/cli/_args.ts";

const OPTIONS: FlagOptions = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
  peer: { type: "string", multiple: true },
};

Deno.test("parseFlags reads --name value, --name=value, booleans and aliases", () => {
  const parsed = parseFlags(
    ["--config", "a.yml", "pos", "-h", "--peer=n2=ws://x", "--peer", "n3=y"],
    OPTIONS,
  );
  assert.deepEqual(parsed.values, {
    config: "a.yml",
    help: true,
    peer: ["n2=ws://x", "n3=y"],
  });
  assert.deepEqual(parsed.positionals, ["pos"]);
});

Deno.test("parseFlags treats everything after -- as positionals", () => {
  const parsed = parseFlags(["--", "--config", "-h"], OPTIONS);
  assert.deepEqual(parsed.values, {});
  assert.deepEqual(parsed.positionals, ["--config", "-h"]);
});

Deno.test("parseFlags keeps the last value of a single flag and takes - as a value", () => {
  const parsed = parseFlags(["--config", "a", "--config", "-"], OPTIONS);
  assert.equal(parsed.values["config"], "-");
});

Deno.test("parseFlags rejects unknown, valueless and over-valued flags by name", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /Unknown option "--bogus"/],
    [["-x"], /Unknown option "-x"/],
    [["-hh"], /Unknown option "-hh"/],
    [["--config"], /Option "--config" needs a value/],
    [["--config", "--help"], /Option "--config" needs a value/],
    [["--help=yes"], /Option "--help" does not take a value/],
    [["--toString"], /Unknown option "--toString"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof ArgsError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});
