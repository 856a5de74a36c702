/**
 * The keys a daemon derives from its secrets at start and on reload (see
 * src/config/derived_keys.ts): the webhook HMAC key and one key per
 * external driver id. Holds them; decides nothing.
 */

import { deriveDriverKeys, deriveWebhookKey } from "../config/derived_keys.ts";
import type { Config } from "../config/types.ts";

/** Derived keys of one daemon. */
export interface DaemonKeys {
  /** HMAC key of webhooks without their own `secret`. */
  webhookKey: Uint8Array;
  /** Key per configured external driver id (empty without a driver token). */
  driverKeys: Map<string, Uint8Array>;
}

/** Derives every key `config` needs. */
export async function deriveDaemonKeys(config: Config): Promise<DaemonKeys> {
  const token = config.cluster.driverToken;
  return {
    webhookKey: await deriveWebhookKey(config.cluster.secret),
    driverKeys: token === undefined
      ? new Map()
      : await deriveDriverKeys(token, config.drivers),
  };
}
