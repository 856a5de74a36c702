/** `clustd cloud-init`: prints user-data for a new droplet. Not wired yet. */

import { type Command, notAvailable, parseCommandArgs } from "./_command.ts";

/** The `cloud-init` command. */
export const cloudInitCommand: Command = {
  name: "cloud-init",
  summary: "Print cloud-init user-data that installs and starts clustd",
  usage: `Usage: clustd cloud-init --config FILE --binary-url URL --sha256 HEX

Prints cloud-init user-data for a new machine: downloads the binary from URL
(verified against HEX), installs the config and the secret (mode 0600) and a
systemd unit, and starts it.

Options:
  --binary-url URL   Where the machine downloads the clustd binary
  --sha256 HEX       SHA-256 of that binary`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: {
        "binary-url": { type: "string" },
        sha256: { type: "string" },
      },
    });
    if (typeof parsed === "number") return parsed;
    return await Promise.resolve(notAvailable(this));
  },
};
