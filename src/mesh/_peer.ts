/**
 * Per-peer bookkeeping of the mesh: the current connection, reconnect
 * backoff (capped exponential with jitter), ping sequence and smoothed RTT.
 * Owns one retry timer; never opens sockets itself.
 */

import type { Connection } from "./channel.ts";

/** Weight of a new RTT sample in the smoothed RTT (TCP's 1/8). */
const RTT_SAMPLE_WEIGHT = 1 / 8;
/** Backoff exponent cap, so the doubling never overflows. */
const BACKOFF_DOUBLINGS_MAX = 20;

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
  #lastPingMs = -Infinity;

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
    this.#lastPingMs = -Infinity;
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

  /** The next ping's sequence number when one is due, else undefined. */
  nextPing(nowMs: number, heartbeatMs: number): number | undefined {
    if (nowMs - this.#lastPingMs < heartbeatMs) return undefined;
    this.#lastPingMs = nowMs;
    this.#pingSeq += 1;
    this.#pingSentMs = nowMs;
    return this.#pingSeq;
  }

  /** Folds the RTT of the latest ping into the smoothed RTT. */
  onPong(seq: number, nowMs: number): void {
    if (seq !== this.#pingSeq || this.#pingSentMs === null) return;
    const sampleMs = nowMs - this.#pingSentMs;
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
