/**
 * Per-peer bookkeeping of the mesh: the current connection, reconnect
 * backoff (capped exponential with jitter), keepalive, ping sequence and
 * smoothed RTT. Owns one retry timer; never opens sockets itself.
 *
 * Pings and pongs ride on frames that go anyway: every envelope may carry a
 * ping (`n`) when none is outstanding, and the pong owed for the peer's
 * latest ping (`p`, with `w` = how long it was held, which the pinger
 * subtracts from its RTT sample). A keepalive ping goes alone only when
 * nothing was sent to the peer for `KEEPALIVE_FRACTION` of a heartbeat.
 */

import type { Connection } from "./channel.ts";

/** Weight of a new RTT sample in the smoothed RTT (TCP's 1/8). */
const RTT_SAMPLE_WEIGHT = 1 / 8;
/** Backoff exponent cap, so the doubling never overflows. */
const BACKOFF_DOUBLINGS_MAX = 20;
/**
 * A keepalive goes once nothing was sent for this fraction of a heartbeat.
 * Checked at least every `TICK_FALLBACK_FRACTION` (mesh.ts) of a heartbeat,
 * so the peer hears something at least every 1.45 h, inside its timeout (E ≥ 2h).
 */
export const KEEPALIVE_FRACTION = 0.7;
/** An unanswered ping is given up (and a new one may go) after this many heartbeats. */
const PING_GIVE_UP_HEARTBEATS = 4;

/** The mesh's envelope on the wire (`t` = msg, ping or pong). */
export interface Envelope {
  t: "msg" | "ping" | "pong";
  m?: unknown;
  /** A ping's sequence number; the receiver owes a pong. */
  n?: number;
  /** The sequence of the ping this answers (`n` in a standalone pong). */
  p?: number;
  /** Milliseconds the pong was held before it left. */
  w?: number;
}

/** One peer as reported to the daemon and HTTP probes. */
export interface PeerStatus {
  id: string;
  url: string;
  connected: boolean;
  /** Smoothed ping round trip, null before the first pong. */
  rttMs: number | null;
  /** Milliseconds since anything was heard, null if never. */
  lastSeenMs: number | null;
  /** Session id of the current connection (same on both ends), null if down. */
  session: string | null;
}

/** Mutable state of one peer link. */
export class PeerLink {
  readonly id: string;
  readonly url: string;
  current: Connection | undefined;
  currentSinceMs = 0;
  dialing = false;
  /** Failed dials since the peer was last connected (for log throttling). */
  failedDials = 0;
  lastSeenMs: number | null = null;
  #attempts = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #rttMs: number | null = null;
  #pingSeq = 0;
  #pingSentMs: number | null = null;
  #pongOwed: { seq: number; atMs: number } | null = null;
  /** When a frame last went to the peer (monotonic ms). */
  lastSentMs = -Infinity;

  constructor(id: string, url: string) {
    this.id = id;
    this.url = url;
  }

  /** Records a freshly adopted connection; resets backoff and ping state. */
  adopt(connection: Connection, nowMs: number): void {
    this.current = connection;
    this.currentSinceMs = nowMs;
    this.lastSeenMs = nowMs;
    this.#attempts = 0;
    this.#pingSentMs = null;
    this.#pongOwed = null;
    this.lastSentMs = -Infinity;
    this.cancelRetry();
  }

  /** Schedules `dial` after the next backoff delay unless one is pending. */
  scheduleRetry(baseMs: number, capMs: number, dial: () => void): void {
    if (this.#retry !== undefined) return;
    const exponent = Math.min(this.#attempts, BACKOFF_DOUBLINGS_MAX);
    const ceilingMs = Math.min(capMs, baseMs * 2 ** exponent);
    // "Equal jitter": at least half the delay, so retries never bunch at zero,
    // and never above the cap, so a restarted peer is found within it.
    const delayMs = ceilingMs / 2 + Math.random() * (ceilingMs / 2);
    this.#attempts += 1;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      dial();
    }, delayMs);
  }

  /** Cancels a pending reconnect. */
  cancelRetry(): void {
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /**
   * Completes an envelope about to be sent: the owed pong, and a ping when
   * none is outstanding; records the send for the keepalive.
   */
  stamp(envelope: Envelope, nowMs: number, heartbeatMs: number): Envelope {
    this.lastSentMs = nowMs;
    if (this.#pongOwed !== null) {
      envelope.p = this.#pongOwed.seq;
      envelope.w = Math.round((nowMs - this.#pongOwed.atMs) * 100) / 100;
      this.#pongOwed = null;
    }
    const outstanding = this.#pingSentMs !== null &&
      nowMs - this.#pingSentMs < PING_GIVE_UP_HEARTBEATS * heartbeatMs;
    if (!outstanding) {
      this.#pingSeq += 1;
      this.#pingSentMs = nowMs;
      envelope.n = this.#pingSeq;
    }
    return envelope;
  }

  /** A keepalive ping when nothing was sent lately, else undefined. */
  keepalive(nowMs: number, heartbeatMs: number): Envelope | undefined {
    if (nowMs - this.lastSentMs < KEEPALIVE_FRACTION * heartbeatMs) {
      return undefined;
    }
    return this.stamp({ t: "ping" }, nowMs, heartbeatMs);
  }

  /** Notes a received envelope's ping and pong. */
  onEnvelope(envelope: Envelope, nowMs: number): void {
    if (typeof envelope.n === "number" && envelope.t !== "pong") {
      this.#pongOwed = { seq: envelope.n, atMs: nowMs };
    }
    const seq = envelope.t === "pong" ? envelope.n : envelope.p;
    if (typeof seq === "number") {
      const heldMs = typeof envelope.w === "number" && envelope.w >= 0
        ? envelope.w
        : 0;
      this.#onPong(seq, heldMs, nowMs);
    }
  }

  /** Folds the RTT of the latest ping into the smoothed RTT. */
  #onPong(seq: number, heldMs: number, nowMs: number): void {
    if (seq !== this.#pingSeq || this.#pingSentMs === null) return;
    const sampleMs = Math.max(0, nowMs - this.#pingSentMs - heldMs);
    this.#pingSentMs = null;
    this.#rttMs = this.#rttMs === null
      ? sampleMs
      : this.#rttMs + RTT_SAMPLE_WEIGHT * (sampleMs - this.#rttMs);
  }

  /** Snapshot for `Mesh.peers()`. */
  status(nowMs: number): PeerStatus {
    return {
      id: this.id,
      url: this.url,
      connected: this.current !== undefined,
      rttMs: this.#rttMs === null ? null : Math.round(this.#rttMs * 100) / 100,
      session: this.current?.sessionId ?? null,
      lastSeenMs: this.lastSeenMs === null
        ? null
        : Math.max(0, Math.round(nowMs - this.lastSeenMs)),
    };
  }
}

/** Inputs of the duplicate-connection tie-break. */
export interface TieBreak {
  selfId: string;
  peerId: string;
  /** Direction of the newly authenticated connection, seen from this node. */
  fresh: "outbound" | "inbound";
  /** Direction of the connection already in use. */
  existing: "outbound" | "inbound";
  existingAgeMs: number;
  /** An existing connection older than this cannot be part of a simultaneous dial. */
  staleAfterMs: number;
}

/**
 * True when the fresh connection should replace the existing one. The
 * connection dialed by the smaller id wins, so both ends keep the same one;
 * between two dialed by the same node the newer wins (the dialer gave up on
 * the old one). An existing connection older than a handshake timeout was
 * not part of a simultaneous dial: the peer dialed again because it lost it
 * (it restarted), so it goes even if it was dialed by the smaller id.
 */
export function preferFresh(t: TieBreak): boolean {
  const smaller = t.selfId < t.peerId ? t.selfId : t.peerId;
  const dialer = (d: "outbound" | "inbound") =>
    d === "outbound" ? t.selfId : t.peerId;
  const freshWins = dialer(t.fresh) === smaller;
  const existingWins = dialer(t.existing) === smaller;
  if (freshWins !== existingWins) {
    return freshWins || t.existingAgeMs > t.staleAfterMs;
  }
  return true;
}
