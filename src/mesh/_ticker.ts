/**
 * The mesh's periodic work (peer timeouts, keepalive pings) and its one
 * timer. The work runs while the node is awake anyway (a frame in or out),
 * at most every `TICK_MIN_FRACTION` of a heartbeat; the timer only catches a
 * node that nothing woke for `TICK_FALLBACK_FRACTION`. Steady traffic (lease
 * rounds every h/2) so costs no wake-up of its own. Never opens sockets.
 */

import type { PeerLink } from "./_peer.ts";

/** The periodic work runs at most this often (fraction of a heartbeat). */
export const TICK_MIN_FRACTION = 0.5;
/** The timer fires only when nothing woke the node for this long (× h). */
export const TICK_FALLBACK_FRACTION = 0.75;

/** What the ticker needs from its mesh. */
export interface TickerOptions {
  heartbeatMs: number;
  /** A connection silent for longer is closed. */
  peerTimeoutMs: number;
  nowMs: () => number;
  /** The peer links, in id order. */
  links: () => readonly PeerLink[];
}

/** Runs the mesh's periodic work; starts its timer at construction. */
export class MeshTicker {
  #o: TickerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastMs = -Infinity;
  #stopped = false;

  constructor(options: TickerOptions) {
    this.#o = options;
    this.#arm(options.nowMs());
  }

  /** The node is awake anyway: run the work if it is due. */
  poke(): void {
    const now = this.#o.nowMs();
    if (now - this.#lastMs < TICK_MIN_FRACTION * this.#o.heartbeatMs) return;
    this.#run(now);
    this.#arm(now);
  }

  /** Stops the timer for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(now: number): void {
    if (this.#stopped) return;
    this.#lastMs = now;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const at = this.#o.nowMs();
      this.#run(at);
      this.#arm(at);
    }, TICK_FALLBACK_FRACTION * this.#o.heartbeatMs);
  }

  #run(now: number): void {
    const { heartbeatMs, peerTimeoutMs } = this.#o;
    for (const link of this.#o.links()) {
      const current = link.current;
      if (current === undefined) continue;
      const silentMs = now - (link.lastSeenMs ?? link.currentSinceMs);
      if (silentMs > peerTimeoutMs) {
        current.close(
          `no traffic for ${
            Math.round(silentMs)
          } ms (peer timeout ${peerTimeoutMs} ms)`,
        );
        continue;
      }
      const ping = link.keepalive(now, heartbeatMs);
      if (ping !== undefined) current.send(ping);
    }
  }
}
