/** `clustd version`: prints the version from deno.json and the runtime. */

import denoJson from "../../deno.json" with { type: "json" };
import { type Command, EXIT_OK, parseCommandArgs } from "./_command.ts";

/** The clustd version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The `version` command. */
export const versionCommand: Command = {
  name: "version",
  summary: "Print the version",
  usage: `Usage: clustd version

Prints the clustd version, the Deno version it runs on, and the target.`,
  run(args) {
    const parsed = parseCommandArgs(this, args);
    if (typeof parsed === "number") return Promise.resolve(parsed);
    console.log(
      `clustd ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})`,
    );
    return Promise.resolve(EXIT_OK);
  },
};
