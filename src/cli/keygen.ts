/** `clustd keygen`: prints a fresh cluster secret (32 random bytes, base64). */

import { generateSecret } from "../config/secret.ts";
import { type Command, EXIT_OK, parseCommandArgs } from "./_command.ts";

/** The `keygen` command. */
export const keygenCommand: Command = {
  name: "keygen",
  summary: "Print a new random cluster secret",
  usage: `Usage: clustd keygen

Prints a new cluster secret: 32 random bytes, base64. Save it with mode 0600
and give the same secret to every node, e.g.
  clustd keygen > /etc/clustd/secret && chmod 600 /etc/clustd/secret
Use it for cluster.secret_file, cluster.driver_token_file or a webhook secret.`,
  run(args) {
    const parsed = parseCommandArgs(this, args);
    if (typeof parsed === "number") return Promise.resolve(parsed);
    console.log(generateSecret());
    return Promise.resolve(EXIT_OK);
  },
};
