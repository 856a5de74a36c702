/**
 * Thin WebCrypto helpers for the mesh: X25519, HKDF-SHA-256, HMAC-SHA-256,
 * SHA-256, random bytes, base64 and a constant-time comparison. Owns no
 * state and never logs; callers decide what a failure means.
 */

import { joinBytes } from "../websocket/codec.ts";

export { joinBytes } from "../websocket/codec.ts";

const encoder = new TextEncoder();

/** Bytes of an X25519 public key, a fresh random, a digest and a key. */
export const KEY_BYTES = 32;

/** UTF-8 encoding of a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Concatenates byte arrays into one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return joinBytes(parts);
}

/** Fresh cryptographically random bytes. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** Standard base64 of bytes (the built-in `Uint8Array.prototype.toBase64`). */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Decodes strict standard base64 (padded, no whitespace, which the built-in
 * would skip); undefined when the text is not base64.
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    return undefined;
  }
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch (_error: unknown) {
    // Non-zero padding bits: not the canonical encoding of any bytes.
    return undefined;
  }
}

/** Compares two byte arrays in time that depends only on their lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** SHA-256 of bytes. */
export async function sha256(
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/** HKDF-SHA-256 (extract and expand) into `length` bytes. */
export async function hkdf(
  ikm: Uint8Array<ArrayBuffer>,
  params: { salt: Uint8Array<ArrayBuffer>; info: string; length: number },
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: params.salt,
      info: utf8(params.info),
    },
    key,
    params.length * 8,
  );
  return new Uint8Array(bits);
}

/** HMAC-SHA-256 of `data` under `keyBytes`. */
export async function hmacSha256(
  keyBytes: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    keyBytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
}

/** A fresh X25519 key pair and its raw public key. */
export interface EphemeralKey {
  privateKey: CryptoKey;
  publicRaw: Uint8Array<ArrayBuffer>;
}

/** Generates an ephemeral X25519 key pair (the private half never leaves WebCrypto). */
export async function generateEphemeral(): Promise<EphemeralKey> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicRaw = new Uint8Array(
    await crypto.subtle.exportKey("raw", pair.publicKey),
  );
  return { privateKey: pair.privateKey, publicRaw };
}

/**
 * X25519 shared secret with a peer's raw public key; undefined when the key
 * is invalid or a low-order point (WebCrypto refuses an all-zero result).
 */
export async function x25519(
  own: CryptoKey,
  peerPublicRaw: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    const peer = await crypto.subtle.importKey(
      "raw",
      peerPublicRaw,
      { name: "X25519" },
      false,
      [],
    );
    const bits = await crypto.subtle.deriveBits(
      { name: "X25519", public: peer },
      own,
      KEY_BYTES * 8,
    );
    const shared = new Uint8Array(bits);
    return shared.every((byte) => byte === 0) ? undefined : shared;
  } catch (_error: unknown) {
    // An invalid point is the peer's fault, reported by the caller as such.
    return undefined;
  }
}
