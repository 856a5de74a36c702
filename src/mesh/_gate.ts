/**
 * The gate in front of the handshake: decides from the upgrade request
 * alone, before any cryptography, whether a connection may start one: the
 * path names a channel kind, the request is a WebSocket upgrade, and the
 * caps and rates of `Admission` allow its source. Refusals are HTTP
 * answers, counted by reason and logged aggregated per source.
 */

import type { ThrottledLog } from "../log_throttle.ts";
import { checkUpgradeRequest } from "../websocket/codec.ts";
import { Admission, type AdmissionRefusal } from "./_admission.ts";
import { channelPath } from "./client.ts";
import { CHANNEL_KINDS, type ChannelKind } from "./handshake.ts";
import type { MeshCounters } from "./metrics.ts";

/** Who asked for an upgrade, as the listener saw it. */
export interface RemoteClient {
  /** The remote IP address. */
  address: string;
  /** Its source key (IPv6 by /64) for per-source limits and logs. */
  source: string;
}

/** An admitted upgrade: its channel kind and the slot to give back. */
export interface Admitted {
  kind: ChannelKind;
  release: () => void;
}

/** Admission decisions for one node's mesh. */
export class Gate {
  readonly #admission = new Admission();
  readonly #counters: MeshCounters;
  readonly #failures: ThrottledLog;

  constructor(counters: MeshCounters, failures: ThrottledLog) {
    this.#counters = counters;
    this.#failures = failures;
  }

  /**
   * A refusal, an admitted upgrade, or undefined when the path is not the
   * mesh's. `open` is false once the mesh is closing.
   */
  check(
    request: Request,
    client: RemoteClient,
    context: { nowMs: number; open: boolean },
  ): Response | Admitted | undefined {
    const path = new URL(request.url).pathname;
    if (!path.startsWith("/clustd/v1/")) return undefined;
    const kind = CHANNEL_KINDS.find((k) => channelPath(k) === path);
    if (kind === undefined) return answer(404, "unknown channel");
    if (!context.open) return answer(503, "shutting down");
    if (request.method !== "GET") {
      return answer(426, "WebSocket upgrade required");
    }
    const problem = checkUpgradeRequest(request.headers);
    if (problem !== undefined) return answer(426, `bad upgrade: ${problem}`);
    const release = this.#admission.tryAdmit(client.source, context.nowMs);
    if (typeof release !== "string") {
      this.#counters.unauthenticatedOpen += 1;
      let released = false;
      return {
        kind,
        release: () => {
          if (released) return;
          released = true;
          this.#counters.unauthenticatedOpen -= 1;
          release();
        },
      };
    }
    this.#refuse(client, release);
    return answer(
      release.startsWith("rate") ? 429 : 503,
      "too many handshakes, try again later",
    );
  }

  #refuse(client: RemoteClient, reason: AdmissionRefusal): void {
    this.#counters.admissionRefused(reason);
    this.#failures.report(
      client.source,
      reason,
      "handshake refused before it started",
      { address: client.address, pending: this.#admission.total },
    );
  }
}

function answer(status: number, text: string): Response {
  return new Response(`${text}\n`, { status });
}
