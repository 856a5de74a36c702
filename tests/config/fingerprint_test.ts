/** clusterDescription(): identical on every node of a cluster, different otherwise. */

import assert from "node:assert/strict";
import { clusterDescription } from "../../src/config/fingerprint.ts";
import { validateConfig } from "../../src/config/validate.ts";
import type { Config } from "../../src/config/types.ts";

const MEMBERS = [
  ["web-1", "voter"],
  ["web-2", "voter"],
  ["arbiter", "witness"],
] as const;

function configOf(self: string, extra = "", priority = 100): Config {
  const peers = MEMBERS.filter(([id]) => id !== self).map(([id, role], i) =>
    `    - { id: ${id}, url: ws://127.0.0.${i + 2}:7400, role: ${role} }`
  );
  const role = MEMBERS.find(([id]) => id === self)?.[1] ?? "voter";
  const text =
    `node: { id: ${self}, advertise: "ws://127.0.0.1:7400", role: ${role}, priority: ${
      role === "witness" ? 0 : priority
    } }
cluster:
  secret: ${new Uint8Array(32).toBase64()}
  peers:
${peers.join("\n")}
${extra}`;
  const result = validateConfig(text, {
    file: "c.yml",
    readFile: () => ({ ok: false, message: "unused" }),
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  return result.config;
}

Deno.test("clusterDescription() is the same on every member", () => {
  const descriptions = MEMBERS.map(([id]) =>
    JSON.stringify(clusterDescription(configOf(id)))
  );
  assert.equal(new Set(descriptions).size, 1);
  assert.deepEqual(JSON.parse(descriptions[0]!), {
    protocol: 2,
    members: [
      { id: "arbiter", role: "witness" },
      { id: "web-1", role: "voter" },
      { id: "web-2", role: "voter" },
    ],
    heartbeatMs: 1500,
    electionTimeoutMs: 3000,
    leaseMs: 2700,
    rankDelayMs: 100,
    twoNode: false,
  });
});

Deno.test("clusterDescription() differs when timing differs", () => {
  const a = clusterDescription(configOf("web-1"));
  const b = clusterDescription(configOf("web-1", "  heartbeat_ms: 1000\n"));
  assert.notDeepEqual(a, b);
});

Deno.test("clusterDescription() leaves out each node's own priority", () => {
  // Priorities are each node's own and advertised: nodes of different
  // priorities must still agree on the fingerprint.
  const a = clusterDescription(configOf("web-1", "", 150));
  const b = clusterDescription(configOf("web-2", "", 90));
  assert.deepEqual(a, b);
  assert.ok(!JSON.stringify(a).includes("priority"));
});
