/**
 * What a SIGHUP may change live. `planReload` is pure: it compares the
 * running config with the one just read and says what to apply and what to
 * refuse. Membership, the secrets, identity and timing are fixed for the life
 * of the process (peers compare them in the handshake); changing them needs a
 * restart. `prepareReload` loads the Workers of new and changed drivers and
 * checks before anything is swapped, so a reload applies whole or not at all.
 */

import type { Config } from "../config/types.ts";
import type { CheckHost, CheckUpdate } from "./check_host.ts";
import type { DriverHost, DriverUpdate } from "./driver_host.ts";

/** The outcome of comparing two configs. */
export interface ReloadPlan {
  /** Sentences naming what cannot change live; non-empty = apply nothing. */
  refused: string[];
  log: boolean;
  statusAllow: boolean;
  drivers: boolean;
  checks: boolean;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(
    a,
    (_key, value) => value instanceof Uint8Array ? [...value] : value,
  ) ===
    JSON.stringify(
      b,
      (_key, value) => value instanceof Uint8Array ? [...value] : value,
    );
}

/** Keys that must stay as they are, with how to read them. */
const FIXED: [string, (c: Config) => unknown][] = [
  ["node.id", (c) => c.node.id],
  ["node.listen", (c) => c.node.listen],
  ["node.advertise", (c) => c.node.advertise],
  ["node.role", (c) => c.node.role],
  ["node.priority", (c) => c.node.priority],
  ["cluster.secret", (c) => c.cluster.secret],
  ["cluster.driver_token_file", (c) => c.cluster.driverToken ?? null],
  ["cluster.peers", (c) => c.cluster.peers],
  ["cluster.heartbeat_ms", (c) => c.cluster.heartbeatMs],
  ["cluster.election_timeout_ms", (c) => c.cluster.electionTimeoutMs],
  ["cluster.lease_ms", (c) => c.cluster.leaseMs],
  ["cluster.rank_delay_ms", (c) => c.cluster.rankDelayMs],
  ["cluster.min_hold_ms", (c) => c.cluster.minHoldMs],
  ["cluster.preempt", (c) => c.cluster.preempt],
  ["cluster.preempt_delay_ms", (c) => c.cluster.preemptDelayMs],
  ["cluster.two_node", (c) => c.cluster.twoNode],
  ["state_dir", (c) => c.stateDir],
];

/** Compares the running config with the new one. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const refused = FIXED.filter(([, read]) => !same(read(current), read(next)))
    .map(([key]) =>
      `${key} cannot change while clustd runs; restart it to apply`
    );
  return {
    refused,
    log: !same(current.log, next.log),
    statusAllow: !same(current.cluster.statusAllow, next.cluster.statusAllow),
    drivers: !same(current.drivers, next.drivers),
    checks: !same(current.checks, next.checks),
  };
}

/** A reload's prepared changes to drivers and checks (null: unchanged). */
export interface PreparedReload {
  drivers: DriverUpdate | null;
  checks: CheckUpdate | null;
}

/**
 * Loads the Workers of the new and changed drivers and checks a reload needs,
 * before anything is swapped; returns the prepared updates, or why they
 * cannot be applied (then nothing was left running and nothing changed).
 */
export async function prepareReload(
  next: Config,
  options: {
    plan: ReloadPlan;
    drivers: DriverHost;
    checks: CheckHost;
  },
): Promise<PreparedReload | string> {
  const { plan } = options;
  let drivers: DriverUpdate | null = null;
  if (plan.drivers) {
    const prepared = await options.drivers.prepare(next.drivers);
    if (typeof prepared === "string") {
      return `cannot start the new drivers: ${prepared}`;
    }
    drivers = prepared;
    // The core was built knowing whether a pre_promote veto exists.
    if (drivers.hasPrePromote !== options.drivers.hasPrePromote()) {
      await drivers.abort();
      return "adding or removing pre_promote needs a restart";
    }
  }
  let checks: CheckUpdate | null = null;
  if (plan.checks) {
    const prepared = await options.checks.prepare(next.checks);
    if (typeof prepared === "string") {
      await drivers?.abort();
      return `cannot start the new checks: ${prepared}`;
    }
    checks = prepared;
  }
  return { drivers, checks };
}

/** `drivers +a ~b -c`: ids added, changed (restarted) and removed. */
export function describeUpdate(
  what: "drivers" | "checks",
  update: { added: readonly string[]; removed: readonly string[] },
): string {
  const changed = update.added.filter((id) => update.removed.includes(id));
  const parts = [
    ...update.added.filter((id) => !changed.includes(id)).map((id) => `+${id}`),
    ...changed.map((id) => `~${id}`),
    ...update.removed.filter((id) => !changed.includes(id)).map((id) =>
      `-${id}`
    ),
  ];
  return `${what} ${parts.length === 0 ? "reordered" : parts.join(" ")}`;
}
