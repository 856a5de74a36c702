/**
 * Shared drivers of the etcd election core tests: a node with test timings,
 * etcd's answers played by hand (grant, snapshot, keepalives, campaigns),
 * and key changes as the watch would deliver them.
 */

import assert from "node:assert/strict";
import {
  CLOCK_DRIFT_RHO,
  DEMOTE_MARGIN_SHARE,
  EtcdElection,
  RENEWS_PER_TTL,
} from "../../src/etcd_election/core.ts";
import type {
  EtcdEffect,
  EtcdElectionOptions,
  EtcdRequest,
  KeyChange,
} from "../../src/etcd_election/types.ts";

export const TTL_MS = 3000;
export const DELTA_MS = 100;
export const RENEW_MS = TTL_MS / RENEWS_PER_TTL;
/** How long after a keepalive's send time a master may act: T/(1+ρ)² − T/4. */
export const MASTER_MS = TTL_MS / (1 + CLOCK_DRIFT_RHO) ** 2 -
  TTL_MS * DEMOTE_MARGIN_SHARE;

export function node(
  id = "a",
  priority = 100,
  extra: Partial<EtcdElectionOptions> = {},
): EtcdElection {
  return new EtcdElection({
    selfId: id,
    role: "voter",
    priority,
    ttlMs: TTL_MS,
    rankDelayMs: DELTA_MS,
    startMs: 0,
    ...extra,
  });
}

export function requests(effects: EtcdEffect[]): EtcdRequest[] {
  return effects.flatMap((e) => e.kind === "etcd" ? [e.request] : []);
}

export function kinds(effects: EtcdEffect[]): string[] {
  return effects.filter((e) => e.kind !== "log").map((e) =>
    e.kind === "etcd" ? e.request.kind : e.kind
  );
}

export function member(
  id: string,
  priority: number,
  revision: number,
): KeyChange {
  return {
    key: { kind: "member", id },
    value: JSON.stringify({ id, role: "voter", priority, eligible: true }),
    createRevision: revision,
    modRevision: revision,
    lease: "9",
  };
}

export function masterKey(
  holder: string | null,
  revision: number,
  lease = "9",
): KeyChange {
  return {
    key: { kind: "master" },
    value: holder,
    createRevision: holder === null ? 0 : revision,
    modRevision: revision,
    lease,
  };
}

/** Grants lease "L1" at t=0 and delivers an empty snapshot with `members`. */
export function started(e: EtcdElection, members: KeyChange[] = []): void {
  const first = e.step({ kind: "tick", nowMs: 0 });
  assert.deepEqual(requests(first).map((r) => r.kind), ["grant"]);
  e.step({ kind: "granted", nowMs: 5, leaseId: "L1", ttlSec: TTL_MS / 1000 });
  e.step({ kind: "snapshot", nowMs: 10, revision: 10, changes: members });
}

/** Runs `e` to its campaign and wins with create revision `revision`. */
export function elect(e: EtcdElection, revision = 20): number {
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, e.nextWakeMs());
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  const out = e.step({
    kind: "campaigned",
    nowMs: now + 1,
    leaseId: "L1",
    won: true,
    master: { holder: e.status(now).id, createRevision: revision, lease: "L1" },
  });
  assert.ok(out.some((x) => x.kind === "promote" && x.term === revision));
  return now + 1;
}

export function answerKeepalives(
  e: EtcdElection,
  out: EtcdEffect[],
  now: number,
) {
  for (const r of requests(out)) {
    if (r.kind === "keepalive") {
      e.step({ kind: "renewed", nowMs: now, leaseId: r.leaseId, ttlSec: 3 });
    }
  }
}

/** Runs `e` to its campaign and answers it won (no promote check). */
export function win(
  e: EtcdElection,
  revision = 20,
): { now: number; out: EtcdEffect[] } {
  let now = 10;
  for (let i = 0; i < 100; i++) {
    now = Math.max(now, Math.ceil(e.nextWakeMs()));
    const out = e.step({ kind: "tick", nowMs: now });
    answerKeepalives(e, out, now);
    if (requests(out).some((r) => r.kind === "campaign")) break;
  }
  const out = e.step({
    kind: "campaigned",
    nowMs: now + 1,
    leaseId: "L1",
    won: true,
    master: { holder: e.status(now).id, createRevision: revision, lease: "L1" },
  });
  return { now: now + 1, out };
}
