/** `clustd status` shows each member's advertised priority, `-` until heard. */
import assert from "node:assert/strict";
import { statusTable } from "../../src/cli/status.ts";
import type { StatusSnapshot } from "../../src/http/handler.ts";

Deno.test("statusTable() shows advertised priorities and - for a member not heard yet", () => {
  const member = (id: string, priority: number | null) => ({
    id,
    url: `ws://10.0.0.${id.at(-1)}:7400`,
    role: "backup",
    priority,
    connected: priority !== null,
    eligible: priority === null ? null : true,
    rtt_ms: priority === null ? null : 0.4,
    last_seen_ms: priority === null ? null : 12,
  });
  const status: StatusSnapshot = {
    id: "n1",
    role: "backup",
    term: 3,
    master: null,
    quorum: true,
    eligible: true,
    drained: false,
    lease_remaining_ms: 0,
    master_since: null,
    uptime_ms: 1000,
    version: "test",
    members: [member("n1", 150), member("n2", 90), member("n3", null)],
  };
  const rows = statusTable(status).split("\n");
  const cells = (id: string) =>
    rows.find((row) => row.startsWith(`${id} `))?.split(/\s+/) ?? [];
  assert.equal(cells("n1")[2], "150");
  assert.equal(cells("n2")[2], "90");
  assert.equal(cells("n3")[2], "-");
});
