/**
 * The connection manager: one `Mesh` per node. Dials every peer, accepts
 * inbound channels, keeps exactly one connection per pair (the one dialed by
 * the smaller id wins a simultaneous dial), reconnects with capped
 * exponential backoff and jitter, pings every heartbeat (smoothed RTT) and
 * reports peer up / down / message events in order. Knows nothing of
 * elections; never imports src/election or src/daemon.
 */

import { logger } from "../log.ts";
import { ThrottledLog } from "../log_throttle.ts";
import { WsServerSocket } from "../websocket/server.ts";
import { Gate, type RemoteClient } from "./_gate.ts";
import {
  Connection,
  HANDSHAKE_TIMEOUT_MS_DEFAULT,
  type SecureChannel,
} from "./channel.ts";
import { MeshTicker } from "./_ticker.ts";
import { openConnection } from "./client.ts";
import type { ChannelKind } from "./handshake.ts";
import { WS_MESSAGE_BYTES_MAX } from "./frame.ts";
import { serverHandshake } from "./_accept.ts";
import { MeshCounters, type MeshMetrics } from "./metrics.ts";
import {
  type Envelope,
  PeerLink,
  type PeerStatus,
  preferFresh,
} from "./_peer.ts";

export type { PeerStatus } from "./_peer.ts";
export type { RemoteClient } from "./_gate.ts";
export type { MeshMetrics } from "./metrics.ts";
export type { SecureChannel } from "./channel.ts";
export { connectChannel } from "./client.ts";

/** Shortest secret accepted (DESIGN §2). */
export const SECRET_BYTES_MIN = 32;
/** Default reconnect backoff cap. */
export const RECONNECT_MAX_MS_DEFAULT = 2000;
/** First reconnect delay; doubles per failed attempt up to the cap. */
export const RECONNECT_BASE_MS = 50;
/** Authenticated control + driver channels open at once. */
export const SERVICE_CHANNELS_MAX = 64;

/** An accepted upgrade: the mesh takes over the raw connection. */
export interface MeshUpgrade {
  upgrade(conn: Deno.TcpConn, buffered: Uint8Array): void;
}

/** Options of one node's mesh. */
export interface MeshOptions {
  selfId: string;
  peers: { id: string; url: string }[];
  /** Cluster PSK, ≥ 32 bytes. */
  secret: Uint8Array;
  /**
   * PSK of the external driver `id` (its own key), or undefined for an id
   * not configured; absent => driver channels refused.
   */
  driverKey?: (id: string) => Uint8Array | undefined;
  /** JSON-able canonical object; digest = SHA-256 of canonical JSON. */
  clusterDescription: unknown;
  /** Ping interval per peer. */
  heartbeatMs: number;
  /** `peer_down` when nothing was heard from a peer for this long. */
  peerTimeoutMs: number;
  /** Backoff cap between reconnect attempts, default 2000. */
  reconnectMaxMs?: number;
  /** Default 5000. */
  handshakeTimeoutMs?: number;
  /** Monotonic clock, default performance.now. */
  nowMs?: () => number;
  /** Frames per key before ratcheting (tests only). */
  ratchetIntervalFrames?: number;
}

/** What the mesh tells the daemon, synchronously and in order. */
export type MeshEvent =
  | { kind: "peer_up"; peer: string }
  | { kind: "peer_down"; peer: string; reason: string }
  | { kind: "message"; peer: string; message: unknown };

type ServiceKind = "control" | "driver";

/** One node's secure peer mesh. */
export class Mesh {
  #o: MeshOptions;
  #now: () => number;
  #log = logger("mesh");
  #counters = new MeshCounters();
  /** Handshake failures (both directions), aggregated per source or URL. */
  #failures = new ThrottledLog(this.#log);
  #gate = new Gate(this.#counters, this.#failures);
  #peers = new Map<string, PeerLink>();
  #sorted: PeerLink[] | undefined;
  #connections = new Set<Connection>();
  #tasks = new Set<Promise<void>>();
  #listeners: ((event: MeshEvent) => void)[] = [];
  #serviceListeners = new Map<ServiceKind, ((ch: SecureChannel) => void)[]>();
  #serviceOpen = 0;
  #ticker: MeshTicker | undefined;
  #started = false;
  #closed = false;

  constructor(options: MeshOptions) {
    if (options.secret.length < SECRET_BYTES_MIN) {
      throw new RangeError(
        `cluster secret has ${options.secret.length} bytes; at least ${SECRET_BYTES_MIN} are required`,
      );
    }
    if (!(options.heartbeatMs > 0) || !(options.peerTimeoutMs > 0)) {
      throw new RangeError("heartbeatMs and peerTimeoutMs must be positive");
    }
    this.#o = options;
    this.#now = options.nowMs ?? (() => performance.now());
    for (const peer of options.peers) {
      if (peer.id === options.selfId || this.#peers.has(peer.id)) {
        throw new RangeError(
          `peer id "${peer.id}" is duplicated or this node's own id`,
        );
      }
      this.#peers.set(peer.id, new PeerLink(peer.id, peer.url));
    }
  }

  /** Registers an event listener. */
  onEvent(listener: (event: MeshEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Registers a listener for accepted, authenticated control or driver channels. */
  onChannel(kind: ServiceKind, listener: (ch: SecureChannel) => void): void {
    const list = this.#serviceListeners.get(kind) ?? [];
    list.push(listener);
    this.#serviceListeners.set(kind, list);
  }

  /** Begins dialing every peer and the heartbeat timer. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#ticker = new MeshTicker({
      heartbeatMs: this.#o.heartbeatMs,
      peerTimeoutMs: this.#o.peerTimeoutMs,
      nowMs: this.#now,
      links: () => this.#sortedLinks(),
    });
    for (const link of this.#sortedLinks()) this.#dial(link);
  }

  /**
   * Answers `/clustd/v1/*` requests: a refusal, or an upgrade that takes
   * over the connection; undefined for any other path. Admission (caps and
   * rates per source) is decided here, before any cryptography.
   */
  handleRequest(
    request: Request,
    client: RemoteClient,
  ): Response | MeshUpgrade | undefined {
    const gate = this.#gate.check(request, client, {
      nowMs: this.#now(),
      open: !this.#closed,
    });
    if (gate === undefined || gate instanceof Response) return gate;
    const { kind, release } = gate;
    return {
      upgrade: (conn, buffered) => {
        try {
          this.#accept(kind, { conn, buffered, headers: request.headers }, {
            client,
            release,
          });
        } catch (error: unknown) {
          // A bug, not a network fault: lose this connection, not the slot.
          this.#log.error("cannot accept a WebSocket", { error });
          release();
          try {
            conn.close();
          } catch (_closeError: unknown) {
            // Already closed.
          }
        }
      },
    };
  }

  #accept(
    kind: ChannelKind,
    raw: { conn: Deno.TcpConn; buffered: Uint8Array; headers: Headers },
    admitted: { client: RemoteClient; release: () => void },
  ): void {
    const { client, release } = admitted;
    const socket = new WsServerSocket(raw.conn, {
      headers: raw.headers,
      buffered: raw.buffered,
      remote: client.address,
    }, { messageBytesMax: WS_MESSAGE_BYTES_MAX });
    const connection = new Connection({
      socket,
      handshake: serverHandshake(kind, {
        selfId: this.#o.selfId,
        description: this.#o.clusterDescription,
        secret: this.#o.secret,
        driverKey: this.#o.driverKey,
        peerIds: this.#peers,
      }),
      direction: "inbound",
      kind,
      remote: client.address,
      source: client.source,
      failures: this.#failures,
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      counters: this.#counters,
      log: this.#log,
      ...this.#codecOptions(),
    });
    // The admission slot is given back once the client authenticated, or
    // else only once its TCP connection is really closed.
    this.#own(connection.established.then(async (ok) => {
      if (!ok) await socket.finished;
      release();
    }));
    this.#track(connection, (ok) => {
      if (!ok) return;
      if (kind === "peer") this.#adoptInbound(connection);
      else this.#acceptService(kind, connection);
    });
  }

  #own(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /** Sends one message to a connected peer; false if not connected or refused. */
  send(peer: string, message: unknown): boolean {
    const link = this.#peers.get(peer);
    const sent = link === undefined ? false : this.#sendMessage(link, message);
    this.#ticker?.poke();
    return sent;
  }

  /** Sends one message to every connected peer, in id order. */
  broadcast(message: unknown): void {
    for (const link of this.#sortedLinks()) this.#sendMessage(link, message);
    this.#ticker?.poke();
  }

  #sendMessage(link: PeerLink, message: unknown): boolean {
    const current = link.current;
    if (current === undefined) return false;
    const now = this.#now();
    return current.send(
      link.stamp({ t: "msg", m: message }, now, this.#o.heartbeatMs),
    );
  }

  /** Per-peer status sorted by id. */
  peers(): PeerStatus[] {
    const now = this.#now();
    return this.#sortedLinks().map((link) => link.status(now));
  }

  /** Counter snapshot. */
  metrics(): MeshMetrics {
    return this.#counters.snapshot();
  }

  /** Closes every connection and timer; resolves when all are closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ticker?.stop();
    for (const link of this.#peers.values()) link.cancelRetry();
    for (const connection of this.#connections) {
      connection.close("node shutting down");
    }
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    this.#failures.close();
  }

  get #handshakeTimeoutMs(): number {
    return this.#o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT;
  }

  #codecOptions(): { ratchetIntervalFrames?: number } {
    const interval = this.#o.ratchetIntervalFrames;
    return interval === undefined ? {} : { ratchetIntervalFrames: interval };
  }

  /** Peer links by id; the peer set is fixed at construction. */
  #sortedLinks(): readonly PeerLink[] {
    this.#sorted ??= [...this.#peers.values()].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    );
    return this.#sorted;
  }

  #emit(event: MeshEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Owns a connection until it closes; `onEstablished` runs once authenticated or not. */
  #track(connection: Connection, onEstablished: (ok: boolean) => void): void {
    this.#connections.add(connection);
    const task = (async () => {
      onEstablished(await connection.established);
      await connection.closed;
      this.#connections.delete(connection);
    })();
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  #acceptService(kind: ServiceKind, connection: Connection): void {
    const listeners = this.#serviceListeners.get(kind) ?? [];
    if (listeners.length === 0 || this.#serviceOpen >= SERVICE_CHANNELS_MAX) {
      connection.close(
        listeners.length === 0
          ? `no ${kind} service on this node`
          : "too many channels",
      );
      return;
    }
    this.#serviceOpen += 1;
    const task = connection.closed.then(() => {
      this.#serviceOpen -= 1;
    });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
    for (const listener of listeners) listener(connection);
  }

  #dial(link: PeerLink): void {
    if (
      !this.#started || this.#closed || link.current !== undefined ||
      link.dialing
    ) return;
    link.dialing = true;
    const connection = openConnection(link.url, {
      kind: "peer",
      psk: this.#o.secret,
      selfId: this.#o.selfId,
      expectedPeerId: link.id,
      description: this.#o.clusterDescription,
      handshakeTimeoutMs: this.#handshakeTimeoutMs,
      counters: this.#counters,
      failures: this.#failures,
      ...this.#codecOptions(),
    });
    this.#track(connection, (ok) => {
      link.dialing = false;
      if (ok) {
        link.failedDials = 0;
        this.#adopt(link, connection);
        return;
      }
      // One line per outage, not per attempt: the handshake failure itself
      // (if any) was already logged by the channel.
      if (link.failedDials === 0) {
        void connection.closed.then((reason) =>
          this.#log.info("peer unreachable, retrying with backoff", {
            peer: link.id,
            reason,
          })
        );
      }
      link.failedDials += 1;
      this.#scheduleRetry(link);
    });
  }

  #scheduleRetry(link: PeerLink): void {
    if (!this.#started || this.#closed || link.current !== undefined) return;
    const capMs = this.#o.reconnectMaxMs ?? RECONNECT_MAX_MS_DEFAULT;
    link.scheduleRetry(RECONNECT_BASE_MS, capMs, () => this.#dial(link));
  }

  #adoptInbound(connection: Connection): void {
    const link = this.#peers.get(connection.peerId);
    if (link === undefined) {
      connection.close("unknown peer");
      return;
    }
    this.#adopt(link, connection);
  }

  /**
   * Makes `connection` the peer's current one unless the tie-break keeps the
   * existing one. Both ends apply the same rule, so they keep the same one.
   */
  #adopt(link: PeerLink, connection: Connection): void {
    if (this.#closed) {
      connection.close("node shutting down");
      return;
    }
    const existing = link.current;
    const now = this.#now();
    if (existing !== undefined) {
      this.#counters.duplicatesClosed += 1;
      const replace = preferFresh({
        selfId: this.#o.selfId,
        peerId: link.id,
        fresh: connection.direction,
        existing: existing.direction,
        existingAgeMs: now - link.currentSinceMs,
        staleAfterMs: this.#handshakeTimeoutMs,
      });
      if (!replace) {
        connection.close(
          "duplicate connection: keeping the one dialed by the smaller id",
        );
        return;
      }
      link.current = connection;
      existing.close(
        "duplicate connection: replaced by a newer or preferred one",
      );
    }
    link.adopt(connection, now);
    this.#counters.peerConnectionsOpen += 1;
    const task = connection.closed.then((reason) => {
      this.#counters.peerConnectionsOpen -= 1;
      this.#onPeerClosed(link, connection, reason);
    });
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
    if (existing === undefined) {
      this.#log.info("peer up", {
        peer: link.id,
        direction: connection.direction,
        session: connection.sessionId,
      });
      this.#emit({ kind: "peer_up", peer: link.id });
    }
    connection.onMessage((message) =>
      this.#onPeerMessage(link, connection, message)
    );
  }

  #onPeerClosed(link: PeerLink, connection: Connection, reason: string): void {
    if (link.current !== connection) return;
    link.current = undefined;
    this.#log.info("peer down", { peer: link.id, reason });
    this.#emit({ kind: "peer_down", peer: link.id, reason });
    this.#scheduleRetry(link);
  }

  #onPeerMessage(
    link: PeerLink,
    connection: Connection,
    envelope: unknown,
  ): void {
    // Messages of a connection that lost the tie-break are dropped: only
    // one connection per peer feeds the daemon, so order is per connection.
    if (link.current !== connection) return;
    const now = this.#now();
    link.lastSeenMs = now;
    const e = envelope as Envelope | null;
    if (e === null || typeof e !== "object") {
      this.#log.debug("ignoring unknown mesh envelope", { peer: link.id });
      return;
    }
    link.onEnvelope(e, now);
    if (e.t === "msg") {
      // The daemon answers in this call (a vote, an ack): the pong owed
      // for a ping in `e` rides on that answer.
      this.#emit({ kind: "message", peer: link.id, message: e.m });
    } else if (e.t !== "ping" && e.t !== "pong") {
      this.#log.debug("ignoring unknown mesh envelope", { peer: link.id });
    }
    this.#ticker?.poke();
  }
}
