/**
 * What the floating_ip driver needs from a cloud: who this machine is, who
 * holds the IP now, assign it here, and whether an assignment has finished.
 * One file per provider implements it from the provider's public API
 * reference; each is a thin mapping onto `ApiClient` (which owns retries,
 * fencing and counters). Providers throw `ApiError`/`FencedError` only.
 */

import type { ApiClient } from "./http.ts";

/** Settings every provider gets (from the validated config). */
export interface ProviderSettings {
  ip: string;
  floatingIpId?: string;
  token: string;
  region?: string;
  apiUrl: string;
  metadataUrl: string;
}

/** State of an asynchronous assignment the provider reported. */
export type ActionState = "done" | "running" | "failed";

/** One cloud's floating IP API. */
export interface Provider {
  /** This machine's id, from the metadata service. */
  machineId(): Promise<string>;
  /** Id of the machine holding the IP now, or null when unassigned. */
  holder(term?: number): Promise<string | null>;
  /** Asks the provider to move the IP here; the action id to poll, or null when synchronous. */
  assign(machine: string, term: number): Promise<string | null>;
  /** State of an action `assign` returned. */
  actionState(action: string, term: number): Promise<ActionState>;
}

/** Parses a JSON answer; throws naming the call when it is not JSON. */
export function json(text: string, label: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null) {
      return value as Record<string, unknown>;
    }
  } catch (_error: unknown) {
    // Fall through to the error below, which names the call.
  }
  throw new Error(`${label}: the provider's answer is not a JSON object`);
}

/** `object.key` when it is an object. */
export function field(
  value: unknown,
  key: string,
): Record<string, unknown> | null {
  if (typeof value !== "object" || value === null) return null;
  const inner = (value as Record<string, unknown>)[key];
  return typeof inner === "object" && inner !== null
    ? inner as Record<string, unknown>
    : null;
}

/** A provider's id (number or string) as text; null when absent. */
export function idText(value: unknown): string | null {
  if (typeof value === "number" || typeof value === "string") {
    return String(value);
  }
  return null;
}

export type { ApiClient };
