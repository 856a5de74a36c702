/**
 * Wire vocabulary and key schedule of the mesh handshake: message parsing
 * and validation, refusals, and the HKDF/HMAC derivation over the
 * transcript. Pure apart from WebCrypto; private to src/mesh (the state
 * machines live in handshake.ts).
 */

import {
  concatBytes,
  fromBase64,
  hkdf,
  hmacSha256,
  KEY_BYTES,
  sha256,
  toBase64,
  utf8,
} from "./_crypto.ts";

/** Wire protocol version; peers with another version are refused. */
export const PROTOCOL_VERSION = 1;

/** Who is talking: node↔node, CLI→daemon, external driver→daemon. */
export type ChannelKind = "peer" | "control" | "driver";

/** All channel kinds, for validation. */
export const CHANNEL_KINDS: readonly ChannelKind[] = [
  "peer",
  "control",
  "driver",
];

/** Why a handshake failed; also the metrics label. */
export type HandshakeFailure =
  | "auth"
  | "version"
  | "fingerprint"
  | "identity"
  | "kind"
  | "malformed"
  | "timeout"
  | "too_large"
  | "closed"
  | "capacity";

/** The operator message for a wrong secret (same on both sides). */
export const AUTH_FAILED_MESSAGE =
  "authentication failed: the peer does not know this cluster's secret";

/** Per-connection secrets handed to the frame codec. */
export interface SessionKeys {
  /** Chain key for frames this side sends. */
  sendChainKey: Uint8Array<ArrayBuffer>;
  /** Chain key for frames this side receives. */
  receiveChainKey: Uint8Array<ArrayBuffer>;
  /** SHA-256 of the transcript; identifies the session (not secret). */
  sessionId: string;
}

/** What the caller does after one step: send, then finish (if `result`). */
export interface HandshakeStep {
  send?: Record<string, unknown>;
  result?:
    | { ok: true; keys: SessionKeys; peerId: string }
    | { ok: false; failure: HandshakeFailure; message: string };
}

const TRANSCRIPT_LABEL = "clustd handshake";
const KEYS_INFO = "clustd/1 session keys";
const ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
const REFUSAL_REASONS: readonly HandshakeFailure[] = [
  "auth",
  "version",
  "fingerprint",
  "identity",
  "kind",
  "malformed",
  "timeout",
  "too_large",
  "closed",
  "capacity",
];

/** Handshake helper (see handshake.ts). */
export function fail(
  failure: HandshakeFailure,
  message: string,
  send?: Record<string, unknown>,
): HandshakeStep {
  const step: HandshakeStep = { result: { ok: false, failure, message } };
  if (send !== undefined) step.send = send;
  return step;
}

/** Handshake helper (see handshake.ts). */
export function refusal(
  reason: HandshakeFailure,
  message: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { type: "refuse", reason, message, ...extra };
}

/** Handshake helper (see handshake.ts). */
export function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return undefined;
    }
    return value as Record<string, unknown>;
  } catch (_error: unknown) {
    // Not JSON: the caller refuses it as malformed.
    return undefined;
  }
}

/** Handshake helper (see handshake.ts). */
export function bytesField(
  message: Record<string, unknown>,
  name: string,
): Uint8Array<ArrayBuffer> | undefined {
  const value = message[name];
  if (typeof value !== "string") return undefined;
  const bytes = fromBase64(value);
  return bytes?.length === KEY_BYTES ? bytes : undefined;
}

/** Handshake helper (see handshake.ts). */
export function idField(message: Record<string, unknown>): string | undefined {
  const id = message.id;
  return typeof id === "string" && ID_PATTERN.test(id) ? id : undefined;
}

/** Turns a received `refuse` message into a local failure. */
/** Handshake helper (see handshake.ts). */
export function remoteRefusal(
  message: Record<string, unknown>,
  localVersion: number,
): HandshakeStep {
  const reason = REFUSAL_REASONS.find((r) => r === message.reason) ??
    "malformed";
  // The refuser wrote its message from its own point of view; for a version
  // mismatch, restate it from ours so "peer" and "this node" stay true.
  if (reason === "version" && typeof message.version === "number") {
    return fail(reason, versionMessage(message.version, localVersion));
  }
  const text = typeof message.message === "string"
    ? message.message.slice(0, 500)
    : "no reason given";
  return fail(reason, `peer refused the handshake: ${text}`);
}

/** Handshake helper (see handshake.ts). */
export function versionMessage(remote: unknown, local: number): string {
  return `protocol version mismatch: peer speaks ${JSON.stringify(remote)}, ` +
    `this node speaks ${local}; run the same clustd release on every node`;
}

/** Everything bound into the session keys. */
export interface Transcript {
  version: number;
  kind: ChannelKind;
  clientId: string;
  serverId: string;
  ephemeralClient: Uint8Array;
  ephemeralServer: Uint8Array;
  randomClient: Uint8Array;
  randomServer: Uint8Array;
  digestClient: Uint8Array;
  digestServer: Uint8Array;
}

/** Derived keys and confirmations of one session. */
export interface Schedule {
  clientChain: Uint8Array<ArrayBuffer>;
  serverChain: Uint8Array<ArrayBuffer>;
  clientConfirm: Uint8Array<ArrayBuffer>;
  serverConfirm: Uint8Array<ArrayBuffer>;
  sessionId: string;
}

/** Derives direction keys and both confirmations from the transcript. */
export async function keySchedule(
  psk: Uint8Array,
  shared: Uint8Array,
  t: Transcript,
): Promise<Schedule> {
  const transcript = utf8(JSON.stringify([
    TRANSCRIPT_LABEL,
    t.version,
    t.kind,
    t.clientId,
    t.serverId,
    toBase64(t.ephemeralClient),
    toBase64(t.ephemeralServer),
    toBase64(t.randomClient),
    toBase64(t.randomServer),
    toBase64(t.digestClient),
    toBase64(t.digestServer),
  ]));
  const th = await sha256(transcript);
  const okm = await hkdf(concatBytes(psk, shared), {
    salt: th,
    info: KEYS_INFO,
    length: 3 * KEY_BYTES,
  });
  const confirmKey = okm.slice(2 * KEY_BYTES);
  return {
    clientChain: okm.slice(0, KEY_BYTES),
    serverChain: okm.slice(KEY_BYTES, 2 * KEY_BYTES),
    clientConfirm: await hmacSha256(
      confirmKey,
      concatBytes(utf8("client finished"), th),
    ),
    serverConfirm: await hmacSha256(
      confirmKey,
      concatBytes(utf8("server finished"), th),
    ),
    sessionId: toBase64(th.slice(0, 12)),
  };
}
