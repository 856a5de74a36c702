/**
 * The cluster fingerprint: a canonical JSON form of the non-secret cluster
 * description (member ids, roles, timing parameters), its SHA-256 digest, and
 * a human diff of two descriptions so a refused peer learns what differs.
 * Pure apart from the digest; never sees the secret.
 */

import { sha256, utf8 } from "./_crypto.ts";

/** At most this many differences are named in one refusal message. */
export const DIFFERENCES_SHOWN_MAX = 8;
/** Differences collected before the walk stops (bounds work on huge inputs). */
const DIFFERENCES_COLLECTED_MAX = 100;

/** JSON with object keys sorted at every level, so equal values encode equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** SHA-256 of the canonical JSON of a cluster description. */
export function descriptionDigest(
  description: unknown,
): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(utf8(canonicalJson(description)));
}

/**
 * Names what differs between this node's description and a peer's, e.g.
 * `members: only here: n4; only on peer: n5; heartbeatMs: here 1500, peer 1000`.
 * Arrays whose items all carry a string `id` are compared by id.
 */
export function describeDifference(local: unknown, remote: unknown): string {
  const out: string[] = [];
  diffValue("", sortKeys(local), sortKeys(remote), out);
  if (out.length === 0) return "descriptions are equal";
  const shown = out.slice(0, DIFFERENCES_SHOWN_MAX);
  const more = out.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

function byId(value: unknown): Map<string, unknown> | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const map = new Map<string, unknown>();
  for (const item of value) {
    if (item === null || typeof item !== "object") return undefined;
    const id = (item as Record<string, unknown>).id;
    if (typeof id !== "string") return undefined;
    map.set(id, item);
  }
  return map;
}

function diffValue(path: string, a: unknown, b: unknown, out: string[]): void {
  if (out.length >= DIFFERENCES_COLLECTED_MAX) return;
  const name = path === "" ? "description" : path;
  const mapA = byId(a);
  const mapB = byId(b);
  if (mapA !== undefined && mapB !== undefined) {
    const onlyA = [...mapA.keys()].filter((id) => !mapB.has(id));
    const onlyB = [...mapB.keys()].filter((id) => !mapA.has(id));
    if (onlyA.length > 0 || onlyB.length > 0) {
      const parts = [];
      if (onlyA.length > 0) parts.push(`only here: ${onlyA.join(", ")}`);
      if (onlyB.length > 0) parts.push(`only on peer: ${onlyB.join(", ")}`);
      out.push(`${name} ids differ (${parts.join("; ")})`);
    }
    for (const [id, itemA] of mapA) {
      if (mapB.has(id)) diffValue(`${name}[${id}]`, itemA, mapB.get(id), out);
    }
    return;
  }
  const isObject = (v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const recA = a as Record<string, unknown>;
    const recB = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(recA), ...Object.keys(recB)])];
    for (const key of keys.sort()) {
      const sub = path === "" ? key : `${path}.${key}`;
      diffValue(sub, recA[key], recB[key], out);
    }
    return;
  }
  if (canonicalJson(a) !== canonicalJson(b)) {
    out.push(`${name}: here ${show(a)}, peer ${show(b)}`);
  }
}
