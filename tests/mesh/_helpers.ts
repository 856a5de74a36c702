/**
 * Test helpers for the mesh: start a node (Deno.serve on 127.0.0.1 + Mesh,
 * as the daemon does), a whole loopback cluster, and a bounded wait.
 * Every helper cleans up what it started.
 */

import {
  type ClientInfo,
  HttpServer,
  type HttpServerMetrics,
  type Upgrade,
} from "../../src/http/server.ts";
import { configureLogging, resetLogSink } from "../../src/log.ts";
import { Mesh, type MeshEvent, type MeshOptions } from "../../src/mesh/mesh.ts";

/** A fixed 32-byte test secret. */
export const SECRET = new Uint8Array(32).fill(7);
/** A different 32-byte secret. */
export const OTHER_SECRET = new Uint8Array(32).fill(9);
/** A driver token. */
export const DRIVER_TOKEN = new Uint8Array(32).fill(3);

/** The cluster description tests use: member ids, roles, timing. */
export function describeCluster(
  ids: string[],
  overrides: { heartbeatMs?: number; roles?: Record<string, string> } = {},
): unknown {
  return {
    members: ids.map((id) => ({ id, role: overrides.roles?.[id] ?? "voter" })),
    heartbeatMs: overrides.heartbeatMs ?? 50,
    electionTimeoutMs: 100,
  };
}

/** Polls `condition` every 10 ms until true or `timeoutMs` passes. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(10);
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An HTTP server on 127.0.0.1 whose handler is set later. */
export interface TestServer {
  port: number;
  url: string;
  setHandler(
    h: (r: Request, c: ClientInfo) => Response | Upgrade | undefined,
  ): void;
  metrics(): HttpServerMetrics;
  close(): Promise<void>;
}

/** Starts the daemon's listener on 127.0.0.1 (`port` 0 = any free port). */
export function startServer(port = 0): TestServer {
  let handler:
    | ((r: Request, c: ClientInfo) => Response | Upgrade | undefined)
    | undefined;
  const server = new HttpServer({
    hostname: "127.0.0.1",
    port,
    handle: (request, client) =>
      handler?.(request, client) ??
        new Response("not found\n", { status: 404 }),
  });
  const actual = server.listen().port;
  return {
    port: actual,
    url: `ws://127.0.0.1:${actual}`,
    setHandler(h) {
      handler = h;
    },
    metrics: () => server.metrics(),
    async close() {
      await server.close();
    },
  };
}

/** One running node. */
export interface TestNode {
  id: string;
  mesh: Mesh;
  server: TestServer;
  events: MeshEvent[];
  close(): Promise<void>;
}

/** Builds a Mesh for `id` on an already started server and starts it. */
export function startNode(
  id: string,
  server: TestServer,
  options: Omit<MeshOptions, "selfId">,
  start = true,
): TestNode {
  const mesh = new Mesh({ selfId: id, ...options });
  const events: MeshEvent[] = [];
  mesh.onEvent((event) => events.push(event));
  server.setHandler((request, client) => mesh.handleRequest(request, client));
  if (start) mesh.start();
  return {
    id,
    mesh,
    server,
    events,
    async close() {
      await mesh.close();
      await server.close();
    },
  };
}

/** Options a cluster shares; per-node fields are filled in. */
export type ClusterOptions = Partial<
  Omit<MeshOptions, "selfId" | "peers" | "clusterDescription">
>;

/** Starts `n` nodes n1..nn on loopback, all dialing each other. */
export function startCluster(
  n: number,
  options: ClusterOptions = {},
  startAll = true,
): TestNode[] {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const servers = ids.map(() => startServer());
  const nodes = ids.map((id, i) =>
    startNode(id, servers[i]!, {
      secret: SECRET,
      heartbeatMs: 50,
      peerTimeoutMs: 400,
      reconnectMaxMs: 200,
      handshakeTimeoutMs: 1000,
      clusterDescription: describeCluster(ids),
      ...options,
      peers: ids.flatMap((other, j) =>
        other === id ? [] : [{ id: other, url: servers[j]!.url }]
      ),
    }, false)
  );
  if (startAll) { for (const node of nodes) node.mesh.start(); }
  return nodes;
}

/** Closes nodes in parallel. */
export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.close()));
}

/** True when every node sees every other connected with one connection each. */
export function fullMesh(nodes: TestNode[]): boolean {
  return nodes.every((node) =>
    node.mesh.peers().every((p) => p.connected) &&
    node.mesh.metrics().peerConnectionsOpen === nodes.length - 1
  );
}

/** Captures log lines while `body` runs. */
export async function captureLogs<T>(
  body: (lines: string[]) => Promise<T>,
): Promise<T> {
  const lines: string[] = [];
  configureLogging({ sink: (line) => lines.push(line) });
  try {
    return await body(lines);
  } finally {
    resetLogSink();
  }
}
