/**
 * Cluster secrets and tokens as text: generation (WebCrypto randomness) and
 * strict base64 decoding with a length floor. Never logs or returns a secret
 * inside an error message.
 */

import { SECRET_BYTES_MIN } from "./schema.ts";

/** Bytes in a generated secret. */
const SECRET_BYTES_GENERATED = 32;

/** A fresh secret: 32 random bytes, standard base64 (what `clustd keygen` prints). */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES_GENERATED));
  return bytes.toBase64();
}

/**
 * Decodes a base64 secret (surrounding whitespace ignored) of at least 32
 * bytes. Returns the bytes, or an error sentence that never quotes the secret.
 */
export function decodeSecret(text: string): Uint8Array | string {
  const trimmed = text.trim();
  const fix = "generate one with `clustd keygen`";
  if (trimmed === "") return `The secret is empty: ${fix}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    return `The secret is not valid base64: ${fix}`;
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(trimmed);
  } catch (_error: unknown) {
    // Only malformed input fails, which the pattern mostly excludes.
    return `The secret is not valid base64: ${fix}`;
  }
  if (bytes.length < SECRET_BYTES_MIN) {
    return `The secret decodes to ${bytes.length} bytes, fewer than the ${SECRET_BYTES_MIN} required: ${fix}`;
  }
  return bytes;
}
