/**
 * Replicates the cluster's pause flag: `clustd pause` / `resume` on any node
 * makes a new version (seq + 1), which is persisted (pause_store.ts), given
 * to the core and sent to every peer; a peer adopts a newer version and
 * answers an older one with its own, and every new connection exchanges
 * them, so a node that was down learns the flag when it reconnects.
 */

import { Logger } from "../log.ts";
import {
  loadPause,
  newerPause,
  parsePauseState,
  type PauseState,
  savePause,
} from "./pause_store.ts";

/** What the replication needs. */
export interface PauseSyncOptions {
  selfId(): string;
  stateDir: string;
  peers(): string[];
  /** Sends our state to a peer; false when not connected. */
  send(peer: string, state: Record<string, unknown>): boolean;
  /** Gives the flag to the core. */
  apply(paused: boolean): void;
}

/** The pause flag of this node and its replication. */
export class PauseSync {
  readonly #o: PauseSyncOptions;
  readonly #log = new Logger("control");
  #pause: PauseState;

  constructor(options: PauseSyncOptions) {
    this.#o = options;
    this.#pause = loadPause(options.stateDir);
  }

  /** The current flag. */
  paused(): boolean {
    return this.#pause.paused;
  }

  /** A peer connected: it learns our flag (it may have missed it). */
  onPeerUp(peer: string): void {
    if (this.#pause.seq > 0) this.#o.send(peer, { ...this.#pause });
  }

  /** `clustd pause` / `clustd resume` on this node: a new version for everyone. */
  set(paused: boolean): { ok: boolean; message: string } {
    const self = this.#o.selfId();
    const word = paused ? "paused" : "resumed";
    if (this.#pause.paused === paused) {
      const since = this.#pause.seq === 0
        ? ""
        : ` (since ${this.#pause.time}, by ${this.#pause.by})`;
      this.#gossip();
      return { ok: true, message: `the cluster is already ${word}${since}` };
    }
    this.#adopt({
      paused,
      seq: this.#pause.seq + 1,
      by: self,
      time: new Date().toISOString(),
    });
    const told = this.#gossip();
    const missed = this.#o.peers()
      .filter((id) => !told.includes(id));
    const effect = paused
      ? "no automatic failover, handover or preemption until `clustd resume`"
      : "automatic failover is on again";
    return {
      ok: true,
      message: `${word} the cluster: ${effect}; told ${
        told.length === 0 ? "no peer" : told.join(", ")
      }${
        missed.length === 0
          ? ""
          : `; ${missed.join(", ")} not connected (they learn it on reconnect)`
      }`,
    };
  }

  /** Sends our flag to every peer; returns those it reached. */
  #gossip(): string[] {
    return this.#o.peers().filter((id) => this.#o.send(id, { ...this.#pause }));
  }

  /** A peer's flag: adopt a newer one, answer an older one with ours. */
  onPeer(peer: string, value: unknown): void {
    const state = parsePauseState(value);
    if (state === null) {
      this.#log.warn("dropped malformed pause state", { peer });
      return;
    }
    if (newerPause(state, this.#pause)) this.#adopt(state);
    else if (newerPause(this.#pause, state)) {
      this.#o.send(peer, { ...this.#pause });
    }
  }

  #adopt(state: PauseState): void {
    try {
      savePause(this.#o.stateDir, state);
    } catch (error: unknown) {
      this.#log.error("cannot persist the pause flag", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    this.#pause = state;
    this.#log.info(state.paused ? "cluster paused" : "cluster resumed", {
      by: state.by,
      seq: state.seq,
    });
    this.#o.apply(state.paused);
  }
}
