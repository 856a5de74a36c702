/**
 * Mesh counters: handshake failures and frame errors by reason, connection
 * and byte totals. Shared by every channel of one node; read as a snapshot.
 * Never logs and never decides anything.
 */

import type { FrameError } from "./frame.ts";
import type { HandshakeFailure } from "./handshake.ts";
import type { AdmissionRefusal } from "./_admission.ts";

/** A snapshot of the mesh counters (monotonic since start, except gauges). */
export interface MeshMetrics {
  /** Failed handshakes by reason (`auth`, `version`, `fingerprint`, ...). */
  handshakeFailures: Partial<Record<HandshakeFailure, number>>;
  /** Rejected received frames by reason (`replayed`, `tampered`, ...). */
  frameErrors: Partial<Record<FrameError, number>>;
  /** Authenticated connections established (all kinds, both directions). */
  connectsTotal: number;
  /** Upgrades refused by the unauthenticated caps and rates (all reasons). */
  admissionsRefused: number;
  /** The same by reason. */
  admissionsRefusedByReason: Partial<Record<AdmissionRefusal, number>>;
  /** Messages not sent because they did not fit one frame or the queue was full. */
  sendsRefused: number;
  /** Duplicate peer connections closed by the tie-break. */
  duplicatesClosed: number;
  /** Key ratchet steps taken (both directions). */
  ratchetsTotal: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Gauge: established peer connections open now (duplicates included). */
  peerConnectionsOpen: number;
  /** Gauge: connections still in their handshake. */
  handshakesPending: number;
  /** Gauge: inbound connections holding an admission slot (until authenticated or closed). */
  unauthenticatedOpen: number;
}

/** Mutable counters behind `MeshMetrics`. */
export class MeshCounters {
  handshakeFailures: Partial<Record<HandshakeFailure, number>> = {};
  frameErrors: Partial<Record<FrameError, number>> = {};
  connectsTotal = 0;
  admissionsRefused = 0;
  admissionsRefusedByReason: Partial<Record<AdmissionRefusal, number>> = {};
  sendsRefused = 0;
  duplicatesClosed = 0;
  ratchetsTotal = 0;
  framesSent = 0;
  framesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  peerConnectionsOpen = 0;
  handshakesPending = 0;
  unauthenticatedOpen = 0;

  /** Counts one failed handshake. */
  handshakeFailed(reason: HandshakeFailure): void {
    this.handshakeFailures[reason] = (this.handshakeFailures[reason] ?? 0) + 1;
  }

  /** Counts one upgrade refused before its handshake. */
  admissionRefused(reason: AdmissionRefusal): void {
    this.admissionsRefused += 1;
    this.admissionsRefusedByReason[reason] =
      (this.admissionsRefusedByReason[reason] ?? 0) + 1;
  }

  /** Counts one rejected frame. */
  frameRejected(reason: FrameError): void {
    this.frameErrors[reason] = (this.frameErrors[reason] ?? 0) + 1;
  }

  /** An immutable copy. */
  snapshot(): MeshMetrics {
    return {
      handshakeFailures: { ...this.handshakeFailures },
      frameErrors: { ...this.frameErrors },
      connectsTotal: this.connectsTotal,
      admissionsRefused: this.admissionsRefused,
      admissionsRefusedByReason: { ...this.admissionsRefusedByReason },
      sendsRefused: this.sendsRefused,
      duplicatesClosed: this.duplicatesClosed,
      ratchetsTotal: this.ratchetsTotal,
      framesSent: this.framesSent,
      framesReceived: this.framesReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      peerConnectionsOpen: this.peerConnectionsOpen,
      handshakesPending: this.handshakesPending,
      unauthenticatedOpen: this.unauthenticatedOpen,
    };
  }
}
