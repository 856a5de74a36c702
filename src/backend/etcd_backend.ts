/**
 * The shell around the etcd election core: carries its requests to etcd
 * (src/etcd/), feeds the answers, the watch and time back in, and hands
 * promote/demote/reply/log effects to the daemon's hooks in order. Decides
 * nothing the core could; never acts as master by itself.
 */

import { EtcdClient, type EtcdClientOptions } from "../etcd/client.ts";
import type { DemoteReason, PromoteReason } from "../election/types.ts";
import { EtcdElection } from "../etcd_election/core.ts";
import type {
  EtcdCommand,
  EtcdEffect,
  EtcdElectionOptions,
  EtcdElectionStatus,
  EtcdInput,
  EtcdRequest,
  MemberRecord,
} from "../etcd_election/types.ts";
import { PrefixView } from "./_prefix_view.ts";
import { campaign, renewLease, resign } from "./_requests.ts";

/** What the daemon does with the core's role effects. */
export interface BackendHooks {
  promote(term: number, reason: PromoteReason): void;
  demote(term: number, reason: DemoteReason, handover: boolean): void;
  reply(requestId: string, ok: boolean, message: string): void;
  /** Run the pre_promote hooks; answer with `prePromoteResult()`. */
  prePromote(term: number): void;
  log(effect: Extract<EtcdEffect, { kind: "log" }>): void;
}

/** Settings of one etcd-backed node. */
export interface EtcdBackendOptions extends EtcdElectionOptions {
  client: EtcdClientOptions;
  /** Key prefix of this cluster, without a trailing slash. */
  prefix: string;
  /** Monotonic clock (ms); tests may pass their own. */
  now: () => number;
}

/** The election on etcd, running. */
export class EtcdBackend {
  readonly #o: EtcdBackendOptions;
  readonly #hooks: BackendHooks;
  readonly #client: EtcdClient;
  readonly #core: EtcdElection;
  readonly #view: PrefixView;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #lastNowMs = 0;
  #pendingPublish: { leaseId: string; record: MemberRecord } | null = null;
  #publishing = false;
  /** Requests in flight, so `stop()` can wait for them. */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: EtcdBackendOptions, hooks: BackendHooks) {
    this.#o = options;
    this.#hooks = hooks;
    this.#client = new EtcdClient(options.client);
    this.#core = new EtcdElection(options);
    this.#view = new PrefixView(this.#client, options.prefix, {
      readTimeoutMs: options.ttlMs / 2,
      on: {
        snapshot: (revision, changes) =>
          this.#step({
            kind: "snapshot",
            nowMs: this.#now(),
            revision,
            changes,
          }),
        changes: (changes) =>
          this.#step({ kind: "changes", nowMs: this.#now(), changes }),
        debug: (event, fields) =>
          this.#hooks.log({ kind: "log", level: "debug", event, fields }),
      },
    });
  }

  /** Starts the lease, the view and the timer. */
  start(): void {
    this.#step({ kind: "tick", nowMs: this.#now() });
    this.#view.start();
  }

  /** Feeds a check result. */
  check(healthy: boolean): void {
    this.#step({ kind: "check", nowMs: this.#now(), healthy });
  }

  /** Feeds an operator command; the reply arrives through `hooks.reply`. */
  command(requestId: string, command: EtcdCommand): void {
    this.#step({ kind: "command", nowMs: this.#now(), requestId, command });
  }

  /** The demote drivers of a handover finished. */
  demoteDone(term: number): void {
    this.#step({ kind: "demote_done", nowMs: this.#now(), term });
  }

  /**
   * `clustd pause` / `resume` with the etcd backend: etcd holds the flag for
   * every node, so it is written there (the watch brings it to every core).
   */
  async setPaused(paused: boolean): Promise<{ ok: boolean; message: string }> {
    const key = `${this.#o.prefix}/pause`;
    try {
      if (paused) await this.#client.put(key, "paused");
      else await this.#client.delete(key);
    } catch (error: unknown) {
      return { ok: false, message: `etcd: ${message(error)}` };
    }
    return {
      ok: true,
      message: paused
        ? "paused the cluster (in etcd): no automatic failover until `clustd resume`"
        : "resumed the cluster (in etcd): automatic failover is on again",
    };
  }

  /** The drivers finished the start demote: the node may campaign. */
  startDemoteDone(): void {
    this.#step({ kind: "start_demote_done", nowMs: this.#now() });
  }

  /** The pre_promote hooks' verdict for `term`. */
  prePromoteResult(term: number, ok: boolean): void {
    this.#step({ kind: "pre_promote_result", nowMs: this.#now(), term, ok });
  }

  /** Status snapshot (reads the clock). */
  status(): EtcdElectionStatus {
    return this.#core.status(this.#now());
  }

  /** The core's master check at this instant. */
  isMaster(): boolean {
    return this.#core.isMaster(this.#now());
  }

  /** Stops timers and the watch, waits for requests in flight, closes the client. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#view.stop();
    await Promise.allSettled([...this.#inflight]);
    this.#client.close();
  }

  #now(): number {
    this.#lastNowMs = Math.max(this.#o.now(), this.#lastNowMs);
    return this.#lastNowMs;
  }

  #step(input: EtcdInput): void {
    if (
      this.#stopped && input.kind !== "command" && input.kind !== "resigned" &&
      input.kind !== "demote_done"
    ) {
      return;
    }
    for (const effect of this.#core.step(input)) this.#apply(effect);
    this.#view.followEndpoint();
    this.#schedule();
  }

  #apply(effect: EtcdEffect): void {
    switch (effect.kind) {
      case "promote":
        return this.#hooks.promote(effect.term, effect.reason);
      case "demote":
        return this.#hooks.demote(effect.term, effect.reason, effect.handover);
      case "reply":
        return this.#hooks.reply(effect.requestId, effect.ok, effect.message);
      case "pre_promote":
        return this.#hooks.prePromote(effect.term);
      case "log":
        return this.#hooks.log(effect);
      case "etcd":
        return this.#send(effect.request);
    }
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped) return;
    const now = this.#now();
    const delayMs = Math.max(
      0,
      Math.min(this.#core.nextWakeMs() - now, this.#o.ttlMs / 6),
    );
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#step({ kind: "tick", nowMs: this.#now() });
    }, Math.ceil(delayMs));
  }

  /** Runs `work`, keeping its promise owned until it settles. */
  #track(work: Promise<unknown>): void {
    const owned = work.catch(() => {}).finally(() =>
      this.#inflight.delete(owned)
    );
    this.#inflight.add(owned);
  }

  #send(request: EtcdRequest): void {
    const c = this.#client;
    const key = (name: string) => `${this.#o.prefix}/${name}`;
    const shortMs = this.#o.ttlMs / 3;
    switch (request.kind) {
      case "grant":
        return this.#track(
          c.leaseGrant(request.ttlSec, { timeoutMs: shortMs }).then(
            (lease) => {
              this.#step({
                kind: "granted",
                nowMs: this.#now(),
                leaseId: lease.id,
                ttlSec: lease.ttlSec,
              });
              // A new lease may follow a partition: our watch may be dead too.
              this.#view.restart();
            },
            (error: unknown) =>
              this.#step({
                kind: "grant_failed",
                nowMs: this.#now(),
                error: message(error),
              }),
          ),
        );
      case "keepalive":
        return this.#track(
          renewLease(c, this.#o.prefix, {
            leaseId: request.leaseId,
            timeoutMs: shortMs,
          }).then(
            (ttlSec) =>
              this.#step({
                kind: "renewed",
                nowMs: this.#now(),
                leaseId: request.leaseId,
                ttlSec,
              }),
            (error: unknown) =>
              this.#step({
                kind: "renew_failed",
                nowMs: this.#now(),
                leaseId: request.leaseId,
                error: message(error),
              }),
          ),
        );
      case "revoke":
        return this.#track(
          c.leaseRevoke(request.leaseId, { timeoutMs: shortMs }),
        );
      case "campaign":
        return this.#track(
          campaign(c, this.#o.prefix, { ...request, timeoutMs: shortMs }).then(
            (outcome) =>
              this.#step({
                kind: "campaigned",
                nowMs: this.#now(),
                leaseId: request.leaseId,
                ...outcome,
              }),
            (error: unknown) =>
              this.#step({
                kind: "campaign_failed",
                nowMs: this.#now(),
                error: message(error),
              }),
          ),
        );
      case "publish":
        this.#pendingPublish = {
          leaseId: request.leaseId,
          record: request.record,
        };
        return this.#publish();
      case "resign":
        return this.#track(
          resign(c, this.#o.prefix, { ...request, timeoutMs: shortMs }).then(
            (ok) =>
              this.#step({
                kind: "resigned",
                nowMs: this.#now(),
                ok,
                error: ok ? null : "the master key is no longer ours",
              }),
            (error: unknown) =>
              this.#step({
                kind: "resigned",
                nowMs: this.#now(),
                ok: false,
                error: message(error),
              }),
          ),
        );
      case "set_pause": {
        const { requestId, paused } = request;
        const work = paused
          ? c.put(key("pause"), "paused")
          : c.delete(key("pause"));
        return this.#track(work.then(
          () => {
            if (requestId === null) return;
            const text = paused ? "paused: no automatic failover" : "resumed";
            this.#hooks.reply(requestId, true, text);
          },
          (error: unknown) => {
            const text = `etcd: ${message(error)}`;
            if (requestId !== null) this.#hooks.reply(requestId, false, text);
            else {
              this.#hooks.log({
                kind: "log",
                level: "warn",
                event: "pause_write_failed",
                fields: { paused, error: text },
              });
            }
          },
        ));
      }
    }
  }

  /** One put in flight; the latest record wins. */
  #publish(): void {
    if (this.#publishing || this.#pendingPublish === null) return;
    const { leaseId, record } = this.#pendingPublish;
    this.#pendingPublish = null;
    this.#publishing = true;
    const work = this.#client.put(
      `${this.#o.prefix}/members/${record.id}`,
      JSON.stringify(record),
      {
        lease: leaseId,
        timeoutMs: this.#o.ttlMs / 3,
      },
    ).catch((error: unknown) => {
      this.#hooks.log({
        kind: "log",
        level: "debug",
        event: "publish_failed",
        fields: { error: message(error) },
      });
    }).finally(() => {
      this.#publishing = false;
      this.#publish();
    });
    this.#track(work);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
