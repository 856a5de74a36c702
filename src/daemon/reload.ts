/**
 * What a SIGHUP may change live. Pure: compares the running config with the
 * one just read and says what to apply and what to refuse. Membership, the
 * secrets, identity and timing are fixed for the life of the process (peers
 * compare them in the handshake); changing them needs a restart.
 */

import type { Config } from "../config/types.ts";
import type { CheckHost } from "./check_host.ts";
import { DriverHost } from "./driver_host.ts";

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

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts the replacement driver and check hosts a reload needs, before
 * anything is swapped; returns them, or why they cannot start (then nothing
 * was left running).
 */
export async function startReplacements(
  next: Config,
  options: {
    drivers: boolean;
    checks: boolean;
    prePromote: boolean;
    /** The derived webhook key (the cluster secret cannot change live). */
    webhookKey: Uint8Array;
    newCheckHost: (config: Config) => CheckHost;
  },
): Promise<{ drivers: DriverHost | null; checks: CheckHost | null } | string> {
  let driverHost: DriverHost | null = null;
  if (options.drivers) {
    driverHost = new DriverHost(next.drivers, {
      nodeId: next.node.id,
      webhookKey: options.webhookKey,
    });
    // The core was built knowing whether a pre_promote veto exists.
    if (driverHost.hasPrePromote() !== options.prePromote) {
      return "adding or removing pre_promote needs a restart";
    }
    try {
      await driverHost.start();
    } catch (error: unknown) {
      await driverHost.stop();
      return `cannot start the new drivers: ${reason(error)}`;
    }
  }
  let checkHost: CheckHost | null = null;
  if (options.checks) {
    checkHost = options.newCheckHost(next);
    try {
      await checkHost.start();
    } catch (error: unknown) {
      await checkHost.stop();
      await driverHost?.stop();
      return `cannot start the new checks: ${reason(error)}`;
    }
  }
  return { drivers: driverHost, checks: checkHost };
}
