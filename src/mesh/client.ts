/**
 * The dialing side of a secure channel, for the mesh, the CLI (`control`)
 * and the external-driver SDK (`driver`): opens a WebSocket to a node's
 * port, runs the client handshake, and hands back an authenticated
 * `SecureChannel` or rejects with the operator-readable reason.
 */

import { logger } from "../log.ts";
import type { ThrottledLog } from "../log_throttle.ts";
import {
  Connection,
  HANDSHAKE_TIMEOUT_MS_DEFAULT,
  type SecureChannel,
} from "./channel.ts";
import { type ChannelKind, ClientHandshake } from "./handshake.ts";
import { MeshCounters } from "./metrics.ts";
import { WsClient } from "../websocket/client.ts";
import { WS_MESSAGE_BYTES_MAX } from "./frame.ts";

export type { SecureChannel } from "./channel.ts";

/** Options of `connectChannel`. */
export interface ConnectChannelOptions {
  kind: ChannelKind;
  /** Cluster secret (`peer`, `control`) or driver token (`driver`). */
  psk: Uint8Array;
  /** This side's id: a node id, `cli`, or a driver id. */
  selfId: string;
  /** Refuse a server presenting another id. */
  expectedPeerId?: string;
  /** Cluster description; must match the server's for `peer` channels. */
  description?: unknown;
  handshakeTimeoutMs?: number;
  ratchetIntervalFrames?: number;
  counters?: MeshCounters;
  /** Protocol version override, for tests of version refusal. */
  version?: number;
  /** Aggregates handshake-failure lines per URL (the mesh's redials). */
  failures?: ThrottledLog;
}

/** Path of each channel kind on a node's port. */
export function channelPath(kind: ChannelKind): string {
  return `/clustd/v1/${kind}`;
}

/** Starts dialing; the returned connection resolves `established` when authenticated. */
export function openConnection(
  url: string,
  options: ConnectChannelOptions,
): Connection {
  const handshake = new ClientHandshake({
    kind: options.kind,
    psk: options.psk,
    selfId: options.selfId,
    description: options.description ?? null,
    ...(options.expectedPeerId === undefined
      ? {}
      : { expectedPeerId: options.expectedPeerId }),
    ...(options.version === undefined ? {} : { version: options.version }),
  });
  const target = new URL(url);
  if (!target.pathname.startsWith("/clustd/")) {
    target.pathname = channelPath(options.kind);
  }
  return new Connection({
    // Our own client, not Deno's WebSocket: it sets TCP_NODELAY (see there).
    socket: new WsClient(target.href, {
      messageBytesMax: WS_MESSAGE_BYTES_MAX,
    }),
    handshake,
    direction: "outbound",
    kind: options.kind,
    remote: target.href,
    handshakeTimeoutMs: options.handshakeTimeoutMs ??
      HANDSHAKE_TIMEOUT_MS_DEFAULT,
    counters: options.counters ?? new MeshCounters(),
    log: logger("mesh"),
    ...(options.ratchetIntervalFrames === undefined
      ? {}
      : { ratchetIntervalFrames: options.ratchetIntervalFrames }),
    ...(options.failures === undefined
      ? {}
      : { failures: options.failures, source: target.href }),
  });
}

/**
 * Connects to a node (`ws://host:port`; the path for `kind` is added) and
 * authenticates; rejects with the operator-readable reason on failure.
 */
export async function connectChannel(
  url: string,
  options: ConnectChannelOptions,
): Promise<SecureChannel> {
  const connection = openConnection(url, options);
  if (await connection.established) return connection;
  throw new Error(await connection.closed);
}
