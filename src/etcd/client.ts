/**
 * A small etcd v3 client over the JSON gateway (`/v3/...`, etcd ≥ 3.4) and
 * `fetch`: KV range/put/delete/txn, leases, watch streams (./watch.ts), TLS
 * files, username/password auth, several endpoints with failover. Chosen over
 * the npm `etcd3` package (gRPC) for footprint; the README has the figures.
 * Never retries beyond one pass over the endpoints per call, and never waits
 * longer than the caller's timeout: the election decides what to retry.
 */

import {
  b64,
  headerRevision,
  id,
  int,
  type KeyValue,
  parseKv,
  prefixEnd,
} from "./_codec.ts";

export type { KeyValue } from "./_codec.ts";

/** Default time budget of one call across all endpoints. */
export const REQUEST_TIMEOUT_MS = 2000;
/** Shortest time one endpoint gets within a call's budget. */
const ATTEMPT_MIN_MS = 200;
/** gRPC codes that mean "try another endpoint". */
const RETRY_CODES = new Set([4, 14]);
/** gRPC code of an invalid or expired auth token. */
const UNAUTHENTICATED = 16;

/** Connection settings; PEM contents, not paths (the shell reads the files). */
export interface EtcdClientOptions {
  /** Client URLs, e.g. https://10.0.0.5:2379; tried in order, sticky on success. */
  endpoints: string[];
  username?: string;
  password?: string;
  caCert?: string;
  cert?: string;
  key?: string;
}

/** A failed call: `code` is the gRPC code, or 14 (unavailable) for transport faults. */
export class EtcdError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "EtcdError";
    this.code = code;
  }
}

/** One condition of a transaction (etcd's Compare). */
export interface Compare {
  key: string;
  target: "CREATE" | "MOD" | "VERSION" | "VALUE" | "LEASE";
  result?: "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";
  /** Revision, version or lease id (as a decimal string), or the value. */
  operand: string;
}

/** One operation inside a transaction. */
export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } }
  | { range: { key: string; prefix?: boolean } };

/** The outcome of `txn()`; `ranges` holds the kvs of each range op, in order. */
export interface TxnResult {
  succeeded: boolean;
  revision: number;
  ranges: KeyValue[][];
}

/** Per-call options. */
export interface CallOptions {
  /** Budget across all endpoints (default REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Only the endpoint that answered last: no failover for this call. */
  pinned?: boolean;
}

type Json = Record<string, unknown>;

/** An etcd v3 client speaking the JSON gateway. */
export class EtcdClient {
  readonly #endpoints: string[];
  readonly #options: EtcdClientOptions;
  readonly #http: Deno.HttpClient | undefined;
  #current = 0;
  #token: string | null = null;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error("no etcd endpoints");
    this.#endpoints = options.endpoints.map((url) => url.replace(/\/+$/, ""));
    this.#options = options;
    const tls = options.caCert !== undefined || options.cert !== undefined;
    this.#http = tls
      ? Deno.createHttpClient({
        ...(options.caCert === undefined ? {} : { caCerts: [options.caCert] }),
        ...(options.cert === undefined || options.key === undefined
          ? {}
          : { cert: options.cert, key: options.key }),
      })
      : undefined;
  }

  /** The endpoint the next call tries first. */
  get endpoint(): string {
    return this.#endpoints[this.#current]!;
  }

  /** Keys equal to `key`, or under it with `prefix`; with the header revision. */
  async range(
    key: string,
    options: CallOptions & { prefix?: boolean } = {},
  ): Promise<{ kvs: KeyValue[]; revision: number }> {
    const body: Json = { key: b64(key) };
    if (options.prefix === true) body["range_end"] = prefixEnd(key);
    const json = await this.call("/v3/kv/range", body, options);
    const kvs = Array.isArray(json["kvs"]) ? json["kvs"].map(parseKv) : [];
    return { kvs, revision: headerRevision(json) };
  }

  /** Writes `key`, bound to `lease` when given; returns the new revision. */
  async put(
    key: string,
    value: string,
    options: CallOptions & { lease?: string } = {},
  ): Promise<number> {
    const body: Json = { key: b64(key), value: b64(value) };
    if (options.lease !== undefined) body["lease"] = options.lease;
    return headerRevision(await this.call("/v3/kv/put", body, options));
  }

  /** Deletes `key` (or every key under it); returns how many went. */
  async delete(
    key: string,
    options: CallOptions & { prefix?: boolean } = {},
  ): Promise<number> {
    const body: Json = { key: b64(key) };
    if (options.prefix === true) body["range_end"] = prefixEnd(key);
    return int(
      (await this.call("/v3/kv/deleterange", body, options))["deleted"],
    );
  }

  /** Runs `success` if every compare holds, else `failure`, atomically. */
  async txn(
    compare: Compare[],
    success: TxnOp[],
    failure: TxnOp[] = [],
    options: CallOptions = {},
  ): Promise<TxnResult> {
    const json = await this.call("/v3/kv/txn", {
      compare: compare.map(encodeCompare),
      success: success.map(encodeOp),
      failure: failure.map(encodeOp),
    }, options);
    const ranges: KeyValue[][] = [];
    for (const response of (json["responses"] as Json[] | undefined) ?? []) {
      const range = response["response_range"] as Json | undefined;
      if (range === undefined) continue;
      ranges.push(Array.isArray(range["kvs"]) ? range["kvs"].map(parseKv) : []);
    }
    return {
      succeeded: json["succeeded"] === true,
      revision: headerRevision(json),
      ranges,
    };
  }

  /** Grants a lease of `ttlSec` seconds; returns its id and granted TTL. */
  async leaseGrant(
    ttlSec: number,
    options: CallOptions = {},
  ): Promise<{ id: string; ttlSec: number }> {
    const json = await this.call("/v3/lease/grant", { TTL: ttlSec }, options);
    if (typeof json["error"] === "string" && json["error"] !== "") {
      throw new EtcdError(2, json["error"]);
    }
    return { id: id(json["ID"]), ttlSec: int(json["TTL"]) };
  }

  /** Renews a lease once; returns the TTL granted from now (0 = lease gone). */
  async leaseKeepAlive(
    leaseId: string,
    options: CallOptions = {},
  ): Promise<number> {
    const json = await this.call(
      "/v3/lease/keepalive",
      { ID: leaseId },
      options,
    );
    const result = json["result"] as Json | undefined;
    if (result === undefined) {
      const error = json["error"] as Json | undefined;
      throw new EtcdError(
        int(error?.["code"]) || 2,
        String(error?.["message"] ?? "keepalive failed"),
      );
    }
    return int(result["TTL"]);
  }

  /** Revokes a lease (its keys are deleted); an unknown lease is no error. */
  async leaseRevoke(leaseId: string, options: CallOptions = {}): Promise<void> {
    try {
      await this.call("/v3/lease/revoke", { ID: leaseId }, options);
    } catch (error: unknown) {
      if (!(error instanceof EtcdError) || error.code !== 5) throw error;
    }
  }

  /** Releases pooled connections and TLS state. */
  close(): void {
    this.#http?.close();
  }

  /**
   * POSTs `body` to `path` on the current endpoint, then the others in turn
   * while the failure is a transport fault or "unavailable"; re-authenticates
   * once when the token expired. Exported for the watch module.
   */
  async call(
    path: string,
    body: Json,
    options: CallOptions = {},
  ): Promise<Json> {
    const deadline = performance.now() +
      (options.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const count = options.pinned === true ? 1 : this.#endpoints.length;
    let lastError: EtcdError = new EtcdError(14, "no endpoint tried");
    let reauthenticated = false;
    for (let attempt = 0; attempt < count; attempt++) {
      // Pinned: the endpoint that answered last, not the first one.
      const index = (this.#current + attempt) % this.#endpoints.length;
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) break;
      const attemptMs = Math.max(
        ATTEMPT_MIN_MS,
        remainingMs / (count - attempt),
      );
      try {
        const json = await this.#post(
          index,
          path,
          body,
          Math.min(attemptMs, remainingMs),
        );
        this.#current = index;
        return json;
      } catch (error: unknown) {
        lastError = error instanceof EtcdError
          ? error
          : new EtcdError(14, String(error));
        if (
          lastError.code === UNAUTHENTICATED && !reauthenticated &&
          this.#options.username !== undefined
        ) {
          reauthenticated = true;
          this.#token = null;
          attempt--;
          continue;
        }
        if (!RETRY_CODES.has(lastError.code)) throw lastError;
      }
    }
    throw lastError;
  }

  /** Opens a streaming POST (a watch) on the current endpoint; the caller reads the body. */
  async openStream(
    path: string,
    body: Json,
    signal: AbortSignal,
  ): Promise<{ endpoint: string; response: Response }> {
    const endpoint = this.endpoint;
    const headers = await this.#headers(this.#current, 5000);
    const response = await fetch(`${endpoint}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal,
      ...(this.#http === undefined ? {} : { client: this.#http }),
    });
    return { endpoint, response };
  }

  /** Moves the next call to the next endpoint (after a watch broke). */
  rotate(): void {
    this.#current = (this.#current + 1) % this.#endpoints.length;
  }

  async #headers(
    index: number,
    timeoutMs: number,
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
    };
    if (this.#options.username === undefined) return headers;
    if (this.#token === null) {
      const json = await this.#fetchJson(
        index,
        "/v3/auth/authenticate",
        {
          name: this.#options.username,
          password: this.#options.password ?? "",
        },
        { "content-type": "application/json" },
        timeoutMs,
      );
      const token = json["token"];
      if (typeof token !== "string" || token === "") {
        throw new EtcdError(UNAUTHENTICATED, "etcd returned no auth token");
      }
      this.#token = token;
    }
    headers["authorization"] = this.#token;
    return headers;
  }

  async #post(
    index: number,
    path: string,
    body: Json,
    timeoutMs: number,
  ): Promise<Json> {
    const started = performance.now();
    const headers = await this.#headers(index, timeoutMs);
    const leftMs = Math.max(1, timeoutMs - (performance.now() - started));
    return await this.#fetchJson(index, path, body, headers, leftMs);
  }

  async #fetchJson(
    index: number,
    path: string,
    body: Json,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Json> {
    const url = `${this.#endpoints[index]}${path}`;
    let response: Response;
    let json: Json;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        ...(this.#http === undefined ? {} : { client: this.#http }),
      });
      json = await response.json() as Json;
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new EtcdError(14, `${url}: ${reason}`);
    }
    if (response.ok && json["error"] === undefined) return json;
    const code = int(json["code"]) || (response.status >= 500 ? 14 : 2);
    throw new EtcdError(
      code,
      `${url}: ${
        String(json["message"] ?? json["error"] ?? response.statusText)
      }`,
    );
  }
}

function encodeCompare(compare: Compare): Json {
  const field = {
    CREATE: "create_revision",
    MOD: "mod_revision",
    VERSION: "version",
    VALUE: "value",
    LEASE: "lease",
  }[compare.target];
  return {
    key: b64(compare.key),
    target: compare.target,
    result: compare.result ?? "EQUAL",
    [field]: compare.target === "VALUE"
      ? b64(compare.operand)
      : compare.operand,
  };
}

function encodeOp(op: TxnOp): Json {
  if ("put" in op) {
    const put: Json = { key: b64(op.put.key), value: b64(op.put.value) };
    if (op.put.lease !== undefined) put["lease"] = op.put.lease;
    return { request_put: put };
  }
  const target = "delete" in op ? op.delete : op.range;
  const request: Json = { key: b64(target.key) };
  if (target.prefix === true) request["range_end"] = prefixEnd(target.key);
  return "delete" in op
    ? { request_delete_range: request }
    : { request_range: request };
}
