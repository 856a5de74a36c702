/**
 * Open-connection slots of the listener, in total and per source: a slot is
 * taken when a connection is accepted and given back only when that
 * connection is closed or handed to the WebSocket side. Counts only.
 */

import { SourceSlots } from "../source_slots.ts";

/** Why a connection got no slot. */
export type SlotRefusal = "connections_total" | "connections_per_source";

/** Counts open connections per source. */
export class ConnectionSlots {
  readonly #slots: SourceSlots;

  constructor(totalMax: number, perSourceMax: number) {
    this.#slots = new SourceSlots(totalMax, perSourceMax);
  }

  /** Takes a slot for `source`: its release (idempotent), or why not. */
  take(source: string): (() => void) | SlotRefusal {
    const taken = this.#slots.take(source);
    if (taken === "total") return "connections_total";
    if (taken === "per_source") return "connections_per_source";
    return taken;
  }

  /** Slots taken now. */
  get total(): number {
    return this.#slots.total;
  }
}
