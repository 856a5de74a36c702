import assert from "node:assert/strict";
import {
  handleProbe,
  type ProbeSource,
  type StatusSnapshot,
} from "../../src/http/handler.ts";
import { inCidr, isValidCidr } from "../../src/http/cidr.ts";
import { renderMetrics } from "../../src/http/metrics.ts";

function snapshot(overrides: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    id: "n1",
    role: "backup",
    term: 3,
    master: "n2",
    quorum: true,
    eligible: true,
    ineligible: [],
    drained: false,
    paused: false,
    lease_remaining_ms: 0,
    master_since: null,
    uptime_ms: 10,
    version: "0.1.0",
    members: [],
    ...overrides,
  };
}

function source(s: StatusSnapshot): ProbeSource {
  return {
    snapshot: () => s,
    metrics: () => "x 1\n",
    history: () => [{
      time: "t",
      term: 1,
      node: "n1",
      from: "backup",
      to: "master",
      reason: "elected",
    }],
    statusAllow: ["127.0.0.0/8", "::1/128"],
  };
}

function get(path: string, method = "GET"): Request {
  return new Request(`http://localhost${path}`, { method });
}

Deno.test("handleProbe answers /master 200 only on the master", async () => {
  const cases: [StatusSnapshot["role"], number][] = [
    ["master", 200],
    ["backup", 503],
    ["candidate", 503],
    ["witness", 503],
  ];
  for (const [role, status] of cases) {
    const response = handleProbe(
      get("/master"),
      "10.1.1.1",
      source(snapshot({ role })),
    );
    assert.equal(response.status, status, role);
    await response.body?.cancel();
  }
});

Deno.test("handleProbe answers /health by quorum and /replica on healthy backups", async () => {
  const table: [Partial<StatusSnapshot>, string, number][] = [
    [{ quorum: true }, "/health", 200],
    [{ quorum: false }, "/health", 503],
    [{ role: "backup" }, "/replica", 200],
    [{ role: "backup", eligible: false }, "/replica", 503],
    [{ role: "backup", quorum: false }, "/replica", 503],
    [{ role: "master" }, "/replica", 503],
  ];
  for (const [over, path, status] of table) {
    const response = handleProbe(
      get(path),
      "127.0.0.1",
      source(snapshot(over)),
    );
    assert.equal(response.status, status, `${path} ${JSON.stringify(over)}`);
    await response.body?.cancel();
  }
});

Deno.test("handleProbe limits /status and /metrics to status_allow", async () => {
  const s = source(snapshot());
  const denied = handleProbe(get("/status"), "10.0.0.9", s);
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const allowed = handleProbe(get("/status"), "127.0.0.1", s);
  assert.equal(allowed.status, 200);
  const body = await allowed.json();
  for (
    const key of [
      "id",
      "role",
      "term",
      "master",
      "quorum",
      "eligible",
      "members",
    ]
  ) {
    assert.ok(key in body, key);
  }
  const v6 = handleProbe(get("/metrics"), "[::1]", s);
  assert.equal(v6.status, 200);
  assert.equal(await v6.text(), "x 1\n");
});

Deno.test("handleProbe serves /history to status_allow only and shows a pause", async () => {
  const s = source(snapshot({ paused: true, role: "master" }));
  const denied = handleProbe(get("/history"), "10.0.0.9", s);
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const allowed = handleProbe(get("/history"), "127.0.0.1", s);
  assert.equal(allowed.status, 200);
  const body = await allowed.json();
  assert.equal(body[0].reason, "elected");
  const master = handleProbe(get("/master"), "10.0.0.9", s);
  assert.equal(master.status, 200);
  assert.match(await master.text(), /paused/);
  const health = handleProbe(get("/health"), "10.0.0.9", s);
  assert.match(await health.text(), /ok \(paused\)/);
});

Deno.test("handleProbe refuses methods that could change state", async () => {
  const response = handleProbe(
    get("/master", "POST"),
    "127.0.0.1",
    source(snapshot()),
  );
  assert.equal(response.status, 405);
  await response.body?.cancel();
});

Deno.test("inCidr matches IPv4 and IPv6 networks", () => {
  assert.equal(inCidr("127.0.0.1", "127.0.0.0/8"), true);
  assert.equal(inCidr("128.0.0.1", "127.0.0.0/8"), false);
  assert.equal(inCidr("10.1.2.3", "10.1.0.0/16"), true);
  assert.equal(inCidr("::1", "::1/128"), true);
  assert.equal(inCidr("fd00::5", "fd00::/8"), true);
  assert.equal(inCidr("127.0.0.1", "::1/128"), false);
  assert.equal(isValidCidr("10.0.0.0/33"), false);
  assert.equal(isValidCidr("nonsense"), false);
  assert.equal(isValidCidr("fd00::/64"), true);
});

Deno.test("renderMetrics escapes labels and writes HELP and TYPE", () => {
  const out = renderMetrics([{
    name: "clustd_peer_rtt_ms",
    help: "Smoothed RTT",
    type: "gauge",
    samples: [{ labels: { peer: 'a"b' }, value: 1.5 }],
  }]);
  assert.equal(
    out,
    '# HELP clustd_peer_rtt_ms Smoothed RTT\n# TYPE clustd_peer_rtt_ms gauge\nclustd_peer_rtt_ms{peer="a\\"b"} 1.5\n',
  );
});
