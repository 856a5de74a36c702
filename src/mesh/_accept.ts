/**
 * The accepting side's handshake policy: which PSK serves which channel
 * kind, and which client ids may open a peer channel. Builds the server
 * state machine; owns no socket.
 */

import { type ChannelKind, ServerHandshake } from "./handshake.ts";
import { randomBytes } from "./_crypto.ts";

/**
 * The PSK tried for a driver id that is not configured: random, so the
 * handshake fails as a wrong key would and reveals no configured ids.
 */
const UNKNOWN_DRIVER_KEY = randomBytes(32);

/** What the policy needs to know about this node. */
export interface AcceptPolicy {
  selfId: string;
  description: unknown;
  secret: Uint8Array;
  /** Key of each configured external driver id; undefined: none served. */
  driverKey: ((id: string) => Uint8Array | undefined) | undefined;
  /** Ids allowed to open peer channels. */
  peerIds: { has(id: string): boolean };
}

/** A server handshake for a connection that arrived on `pathKind`'s path. */
export function serverHandshake(
  pathKind: ChannelKind,
  policy: AcceptPolicy,
): ServerHandshake {
  return new ServerHandshake({
    pathKind,
    selfId: policy.selfId,
    description: policy.description,
    // The PSK is chosen by the kind the path names, so a driver key can
    // never open a peer or control channel: the kind is in the transcript,
    // and a hello naming another kind than its path gets no key at all.
    // Each external driver has its own key, bound to its id.
    pskFor: (kind, id) => {
      if (kind !== pathKind) return undefined;
      if (kind !== "driver") return policy.secret;
      if (policy.driverKey === undefined) return undefined;
      return policy.driverKey(id) ?? UNKNOWN_DRIVER_KEY;
    },
    checkClient: (kind, id) => {
      if (kind !== "peer") return undefined;
      if (id === policy.selfId) {
        return `the peer claims this node's own id "${id}"; every node needs a unique node.id`;
      }
      if (!policy.peerIds.has(id)) {
        return `unknown peer id "${id}": it is not in cluster.peers of node "${policy.selfId}"`;
      }
      return undefined;
    },
  });
}
