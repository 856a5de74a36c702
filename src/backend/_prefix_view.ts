/**
 * Keeps the election's view of the cluster prefix current: reads the whole
 * prefix, then watches it from the revision after that read; when the watch
 * ends (member gone, compaction, or moved after an endpoint failover) it
 * reads and watches again with capped backoff, so no change is lost between
 * streams. Delivers snapshots and changes; decides nothing.
 */

import type { EtcdClient, KeyValue } from "../etcd/client.ts";
import { EtcdWatch, type WatchEvent } from "../etcd/watch.ts";
import type { KeyChange } from "../etcd_election/types.ts";

/** Shortest and longest wait before the prefix is read and watched again. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

/** Where the view goes. */
export interface PrefixViewHandlers {
  snapshot(revision: number, changes: KeyChange[]): void;
  changes(changes: KeyChange[]): void;
  debug(event: string, fields: Record<string, string>): void;
}

/** The read-then-watch loop over one prefix. */
export class PrefixView {
  readonly #client: EtcdClient;
  readonly #prefix: string;
  readonly #readTimeoutMs: number;
  readonly #on: PrefixViewHandlers;
  #watch: EtcdWatch | null = null;
  /** The endpoint the current watch streams from. */
  #watchEndpoint = "";
  #retryMs = RETRY_MIN_MS;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #syncing = false;
  #stopped = false;
  readonly #pending = new Set<Promise<unknown>>();

  /** `prefix` without its trailing slash. */
  constructor(
    client: EtcdClient,
    prefix: string,
    options: { readTimeoutMs: number; on: PrefixViewHandlers },
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#readTimeoutMs = options.readTimeoutMs;
    this.#on = options.on;
  }

  /** Reads the prefix and starts watching. */
  start(): void {
    this.#resync();
  }

  /** Reads and watches again (the watch may be dead after a partition). */
  restart(): void {
    this.#watch?.close();
  }

  /**
   * Calls failed over to another endpoint: the watch may hang on the old
   * one (a partitioned member sends nothing, not even an error), so it
   * moves too.
   */
  followEndpoint(): void {
    const endpoint = this.#client.endpoint;
    if (this.#watch === null || this.#watchEndpoint === endpoint) return;
    this.#watchEndpoint = endpoint;
    this.#on.debug("watch_moved", { endpoint });
    this.#watch.close();
  }

  /** Ends the watch and the retry timer; resolves when the reads settled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#watch?.close();
    await Promise.allSettled([...this.#pending]);
  }

  #track(work: Promise<unknown>): void {
    const owned = work.catch(() => {}).finally(() =>
      this.#pending.delete(owned)
    );
    this.#pending.add(owned);
  }

  #resync(): void {
    if (this.#syncing || this.#stopped) return;
    this.#syncing = true;
    const prefix = `${this.#prefix}/`;
    const work = this.#client.range(prefix, {
      prefix: true,
      timeoutMs: this.#readTimeoutMs,
    }).then((read) => {
      if (this.#stopped) return;
      this.#on.snapshot(
        read.revision,
        read.kvs.map((kv) => this.#change(kv, false)),
      );
      this.#retryMs = RETRY_MIN_MS;
      this.#watchEndpoint = this.#client.endpoint;
      this.#watch = new EtcdWatch(this.#client, prefix, {
        prefix: true,
        startRevision: read.revision + 1,
      }, {
        onEvents: (events) => this.#onEvents(events),
        onEnd: (reason) => this.#onEnd(reason),
      });
      this.#track(this.#watch.done);
    }, (error: unknown) => {
      this.#on.debug("sync_failed", { error: String(error) });
      this.#retry();
    }).finally(() => this.#syncing = false);
    this.#track(work);
  }

  #onEvents(events: WatchEvent[]): void {
    if (this.#stopped) return;
    this.#on.changes(
      events.map((event) => this.#change(event.kv, event.type === "delete")),
    );
  }

  #onEnd(reason: string): void {
    this.#watch = null;
    if (this.#stopped) return;
    this.#on.debug("watch_ended", { reason });
    if (reason !== "closed") this.#client.rotate();
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped || this.#retryTimer !== null) return;
    const delayMs = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#resync();
    }, delayMs);
  }

  /** A key under the prefix as the core's KeyChange. */
  #change(kv: KeyValue, deleted: boolean): KeyChange {
    const name = kv.key.slice(this.#prefix.length + 1);
    const key: KeyChange["key"] = name === "master"
      ? { kind: "master" }
      : name === "handover"
      ? { kind: "handover" }
      : name === "pause"
      ? { kind: "pause" }
      : name.startsWith("members/")
      ? { kind: "member", id: name.slice("members/".length) }
      : { kind: "other" };
    return {
      key,
      value: deleted ? null : kv.value,
      createRevision: kv.createRevision,
      modRevision: kv.modRevision,
      lease: kv.lease,
    };
  }
}
