/**
 * Cross-field rules of the member list for validate.ts: unique ids and URLs,
 * the node not listing itself, quorum shape (two voters need a witness or `two_node`),
 * witnesses without drivers or checks, external drivers with a token.
 * Reports through the Reader only.
 */

import type { DriverEntry } from "./_drivers.ts";
import { quote, type Section } from "./_reader.ts";
import type { ClusterConfig, NodeConfig, PeerConfig } from "./types.ts";

/** The already-read parts the cross checks look at, with their sections. */
export interface MembershipInput {
  node: NodeConfig;
  cluster: ClusterConfig;
  clusterSection: Section;
  peers: { peer: PeerConfig; section: Section }[];
  drivers: DriverEntry[];
  /** Number of valid checks. */
  checks: number;
}

/** Reports every inconsistency between node, peers, drivers and checks. */
export function checkMembership(root: Section, input: MembershipInput): void {
  checkPeerIds(input);
  checkPeerUrls(input);
  checkDrivers(input);
  checkQuorumShape(input);
  checkWitness(root, input);
}

function checkPeerIds({ node, peers }: MembershipInput): void {
  const seen = new Map<string, string>();
  for (const { peer, section } of peers) {
    if (peer.id === "") continue;
    if (peer.id === node.id) {
      section.error(
        "id",
        `${
          quote(peer.id)
        } is this node's own id (node.id): list only the other members`,
      );
      continue;
    }
    const first = seen.get(peer.id);
    if (first !== undefined) {
      section.error(
        "id",
        `Duplicate id ${
          quote(peer.id)
        }, also used by ${first}: every member needs its own id`,
      );
      continue;
    }
    seen.set(peer.id, section.path);
  }
}

function checkDrivers({ cluster, drivers }: MembershipInput): void {
  // Duplicate driver ids are reported by _drivers.ts for every type.
  for (const { driver, section } of drivers) {
    if (driver.type !== "external") continue;
    if (cluster.driverTokenFile === undefined) {
      section.reader.error(
        section.path,
        section.node,
        'An external driver authenticates with a driver token: set "cluster.driver_token_file" to a file made with "clustd keygen"',
      );
    }
  }
}

/** The URL as peers would dial it (case, default port and `/` normalized). */
function dialTarget(url: string): string | null {
  try {
    return new URL(url).href;
  } catch (_error: unknown) {
    // An unparsable URL is reported where it is read.
    return null;
  }
}

/**
 * Two peers at one URL, or a peer at this node's own address, make the mesh
 * dial one node under two ids (issue 13): refuse both.
 */
function checkPeerUrls({ node, peers }: MembershipInput): void {
  const seen = new Map<string, string>();
  const own = node.advertise === "" ? null : dialTarget(node.advertise);
  for (const { peer, section } of peers) {
    const target = peer.url === "" ? null : dialTarget(peer.url);
    if (target === null) continue;
    if (target === own) {
      section.error(
        "url",
        `${
          quote(peer.url)
        } is this node's own address (node.advertise): each peer needs the URL of another member`,
      );
      continue;
    }
    const first = seen.get(target);
    if (first !== undefined) {
      section.error(
        "url",
        `Duplicate URL ${
          quote(peer.url)
        }, also used by ${first}: every peer needs its own address`,
      );
      continue;
    }
    seen.set(target, section.path);
  }
}

function checkQuorumShape(input: MembershipInput): void {
  const { node, cluster, clusterSection } = input;
  const roles = [node.role, ...cluster.peers.map((peer) => peer.role)];
  const voters = roles.filter((role) => role === "voter").length;
  const witnesses = roles.length - voters;
  // With etcd, etcd's own quorum decides: any number of voters is fine.
  const pair = voters === 2 && witnesses === 0 && cluster.backend === "mesh";
  if (voters === 0) {
    clusterSection.error(
      "peers",
      'No member is a voter: at least one member must have role "voter"',
    );
  } else if (cluster.twoNode && !pair) {
    clusterSection.error(
      "two_node",
      `"two_node: true" needs exactly two voters and no witness, but this cluster has ${voters} voter(s) and ${witnesses} witness(es): remove it`,
    );
  } else if (pair && !cluster.twoNode) {
    clusterSection.error(
      "peers",
      'Two voters without a witness cannot keep a majority when one fails: add a peer with role "witness" (recommended), or set "cluster.two_node: true" to let either be master alone',
    );
  } else if (pair && cluster.twoNode) {
    clusterSection.warn(
      "two_node",
      "Either node may become master alone, so a network split between the two makes two masters: prefer a witness",
    );
  }
}

function checkWitness(root: Section, input: MembershipInput): void {
  if (input.node.role !== "witness") return;
  const counts = { drivers: input.drivers.length, checks: input.checks };
  for (const key of ["drivers", "checks"] as const) {
    if (counts[key] === 0) continue;
    root.error(
      key,
      `A witness never becomes master, so it runs no ${key}: remove "${key}" or set node.role to "voter"`,
    );
  }
}
