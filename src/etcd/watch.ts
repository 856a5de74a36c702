/**
 * One etcd watch stream over the JSON gateway (`POST /v3/watch`, a
 * newline-delimited stream of responses). Delivers events in revision order
 * and ends exactly once, with the reason; never reconnects by itself (the
 * caller re-reads and re-watches from the revision it has seen, so no event
 * is lost between streams).
 */

import {
  b64,
  headerRevision,
  type KeyValue,
  parseKv,
  prefixEnd,
} from "./_codec.ts";
import type { EtcdClient } from "./client.ts";

/** Longest response line accepted from the stream before it is dropped. */
export const WATCH_LINE_MAX_BYTES = 1 << 20;

/** One change seen by a watch. */
export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
}

/** What a watch reports. */
export interface WatchHandlers {
  /** Events of one revision batch, and the header revision after them. */
  onEvents(events: WatchEvent[], revision: number): void;
  /** The stream ended (error, cancel, compaction or close); called once. */
  onEnd(reason: string): void;
}

/** Options of `watch()`. */
export interface WatchOptions {
  prefix?: boolean;
  /** First revision to report (the revision after the caller's last read). */
  startRevision?: number;
}

/** A running watch; `close()` ends it. */
export class EtcdWatch {
  readonly #abort = new AbortController();
  #ended = false;
  /** Settles when the stream's reader finished. */
  readonly done: Promise<void>;

  constructor(
    client: EtcdClient,
    key: string,
    options: WatchOptions,
    handlers: WatchHandlers,
  ) {
    const create: Record<string, unknown> = { key: b64(key) };
    if (options.prefix === true) create["range_end"] = prefixEnd(key);
    if (options.startRevision !== undefined) {
      create["start_revision"] = String(options.startRevision);
    }
    this.done = this.#run(client, create, handlers);
  }

  /** Ends the stream; `onEnd("closed")` follows unless it already ended. */
  close(): void {
    this.#abort.abort();
  }

  async #run(
    client: EtcdClient,
    create: Record<string, unknown>,
    handlers: WatchHandlers,
  ): Promise<void> {
    let reason = "stream ended";
    try {
      const { response } = await client.openStream(
        "/v3/watch",
        { create_request: create },
        this.#abort.signal,
      );
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        reason = `watch refused: HTTP ${response.status}`;
      } else {
        reason = await this.#read(response.body, handlers);
      }
    } catch (error: unknown) {
      reason = this.#abort.signal.aborted
        ? "closed"
        : `watch failed: ${
          error instanceof Error ? error.message : String(error)
        }`;
    }
    if (!this.#ended) {
      this.#ended = true;
      handlers.onEnd(reason);
    }
  }

  async #read(
    body: ReadableStream<Uint8Array>,
    handlers: WatchHandlers,
  ): Promise<string> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (line === "") continue;
        const problem = this.#line(line, handlers);
        if (problem !== null) return problem;
      }
      if (buffer.length > WATCH_LINE_MAX_BYTES) return "watch line too long";
    }
    return "stream ended";
  }

  /** Handles one response line; returns why the stream must end, or null. */
  #line(line: string, handlers: WatchHandlers): string | null {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(line) as Record<string, unknown>;
    } catch (_error: unknown) {
      return "watch sent invalid JSON";
    }
    const result = json["result"] as Record<string, unknown> | undefined;
    if (result === undefined) {
      const error = json["error"] as Record<string, unknown> | undefined;
      return `watch error: ${String(error?.["message"] ?? "unknown")}`;
    }
    if (result["canceled"] === true) {
      const compacted = result["compact_revision"];
      return compacted === undefined
        ? `watch canceled: ${String(result["cancel_reason"] ?? "")}`
        : `watch compacted at ${String(compacted)}`;
    }
    const raw = Array.isArray(result["events"]) ? result["events"] : [];
    const events = raw.map((event: Record<string, unknown>) => ({
      type: event["type"] === "DELETE" ? "delete" as const : "put" as const,
      kv: parseKv(event["kv"]),
    }));
    handlers.onEvents(events, headerRevision(result));
    return null;
  }
}
