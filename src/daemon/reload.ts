/**
 * What a SIGHUP may change live. Pure: compares the running config with the
 * one just read and says what to apply and what to refuse. Membership, the
 * secrets, identity and timing are fixed for the life of the process (peers
 * compare them in the handshake); changing them needs a restart.
 */

import type { Config } from "../config/types.ts";

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
