/**
 * `clustd derive-key webhook | driver ID`: prints a key derived from this
 * node's secrets (src/config/derived_keys.ts), for the one party that needs
 * it: a webhook receiver checking signatures, or one external driver. Reads
 * the config like `run`; prints nothing but the key on stdout.
 */

import { deriveDriverKey, deriveWebhookKey } from "../config/derived_keys.ts";
import {
  type Command,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";

/** The `derive-key` command. */
export const deriveKeyCommand: Command = {
  name: "derive-key",
  summary: "Print the webhook key or an external driver's key",
  usage: `Usage: clustd derive-key webhook | driver ID

Prints a key derived from this node's secrets (32 bytes, base64), so that a
receiver never holds the cluster secret or the driver token itself:
  webhook    The HMAC-SHA-256 key of webhooks without their own "secret":
             HKDF-SHA-256 of the cluster secret, info "clustd/v1 webhook-key".
             Give it to the webhook receiver.
  driver ID  The key of the external driver ID (listed under drivers as
             {type: external, id: ID}): HKDF-SHA-256 of cluster.driver_token_file,
             info "clustd/v1 driver-key ID". It opens a driver channel under
             that id only; pass it as the SDK's token (e.g. its --token-file).
Save a key with mode 0600, e.g.
  clustd derive-key driver my-driver > /etc/clustd/my-driver.key`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, { positionalsMax: 2 });
    if (typeof parsed === "number") return parsed;
    const [kind, id] = parsed.positionals;
    if (kind !== "webhook" && kind !== "driver") {
      return usageError(this, 'Say which key: "webhook" or "driver ID"');
    }
    if (kind === "webhook" && id !== undefined) {
      return usageError(this, `Unexpected argument ${JSON.stringify(id)}`);
    }
    if (kind === "driver" && id === undefined) {
      return usageError(this, 'Name the external driver: "driver ID"');
    }
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    if (kind === "webhook") {
      console.log((await deriveWebhookKey(config.cluster.secret)).toBase64());
      return EXIT_OK;
    }
    const driverId = id ?? "";
    const token = config.cluster.driverToken;
    if (token === undefined) {
      return usageError(
        this,
        'cluster.driver_token_file is not set: external drivers need it (make one with "clustd keygen")',
      );
    }
    const known = config.drivers.some((d) =>
      d.type === "external" && d.id === driverId
    );
    if (!known) {
      return usageError(
        this,
        `No external driver ${
          JSON.stringify(driverId)
        } in the config: add {type: external, id: ${driverId}} under drivers`,
      );
    }
    console.log((await deriveDriverKey(token, driverId)).toBase64());
    return EXIT_OK;
  },
};
