/**
 * Conversions between etcd's v3 JSON gateway encoding (base64 keys and
 * values, 64-bit integers as decimal strings, proto3 defaults omitted) and
 * plain TypeScript values. Pure; never throws on a well-formed response.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 text as base64, the gateway's encoding of `bytes` fields. */
export function b64(text: string): string {
  return encoder.encode(text).toBase64();
}

/** A base64 `bytes` field as UTF-8 text ("" when absent). */
export function unb64(value: unknown): string {
  if (typeof value !== "string" || value === "") return "";
  return decoder.decode(Uint8Array.fromBase64(value));
}

/** The range_end that makes `[prefix, end)` cover every key under `prefix`. */
export function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i] = bytes[i]! + 1;
      return end.toBase64();
    }
  }
  // All 0xff (or empty): "\0" means "to the end of the keyspace".
  return "AA==";
}

/** An int64 field (decimal string or number, absent = 0) as a number. */
export function int(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  return 0;
}

/** An int64 ID field kept as a decimal string (lease IDs exceed 2^53). */
export function id(value: unknown): string {
  if (typeof value === "string" && /^-?\d+$/.test(value)) return value;
  if (typeof value === "number") return String(value);
  return "0";
}

/** One key-value pair as the client hands it out. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** "0" when the key has no lease. */
  lease: string;
}

/** A gateway `mvccpb.KeyValue` object as a KeyValue. */
export function parseKv(raw: unknown): KeyValue {
  const kv = (raw ?? {}) as Record<string, unknown>;
  return {
    key: unb64(kv["key"]),
    value: unb64(kv["value"]),
    createRevision: int(kv["create_revision"]),
    modRevision: int(kv["mod_revision"]),
    version: int(kv["version"]),
    lease: id(kv["lease"]),
  };
}

/** The header revision of a gateway response (0 when absent). */
export function headerRevision(raw: unknown): number {
  const header = (raw as Record<string, unknown> | null)?.["header"];
  return int((header as Record<string, unknown> | undefined)?.["revision"]);
}
