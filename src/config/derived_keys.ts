/**
 * Keys derived from the node's secrets with HKDF-SHA-256 and a label, so
 * that no receiver ever holds a secret that opens more than it should:
 * - the webhook key (from the cluster secret): a webhook receiver can check
 *   signatures but cannot pose as a node;
 * - one driver key per external driver id (from `driver_token_file`): an
 *   external driver can open a `driver` channel under its own id only.
 * `clustd derive-key` prints them for the receivers. Never logs a key.
 */

/** HKDF `info` of the webhook key. */
export const WEBHOOK_KEY_LABEL = "clustd/v1 webhook-key";
/** HKDF `info` prefix of a driver key; the driver id follows. */
export const DRIVER_KEY_LABEL = "clustd/v1 driver-key ";
/** Bytes of every derived key. */
export const DERIVED_KEY_BYTES = 32;

const encoder = new TextEncoder();

/** HKDF-SHA-256(ikm = secret, salt = empty, info = label) → 32 bytes. */
export async function deriveKey(
  secret: Uint8Array,
  label: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const ikm = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(secret),
    "HKDF",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(0),
      info: encoder.encode(label),
    },
    ikm,
    DERIVED_KEY_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** The HMAC key of webhooks without their own `secret`. */
export function deriveWebhookKey(
  clusterSecret: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return deriveKey(clusterSecret, WEBHOOK_KEY_LABEL);
}

/** The key the external driver `id` authenticates with. */
export function deriveDriverKey(
  driverToken: Uint8Array,
  id: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return deriveKey(driverToken, DRIVER_KEY_LABEL + id);
}

/** Driver keys of every `{type: external}` id in `drivers`. */
export async function deriveDriverKeys(
  driverToken: Uint8Array,
  drivers: readonly { type: string; id?: string }[],
): Promise<Map<string, Uint8Array>> {
  const keys = new Map<string, Uint8Array>();
  for (const driver of drivers) {
    if (driver.type !== "external" || driver.id === undefined) continue;
    keys.set(driver.id, await deriveDriverKey(driverToken, driver.id));
  }
  return keys;
}
