import assert from "node:assert/strict";
import type { FloatingIpDriverConfig } from "../../src/config/types.ts";
import { DriverHost, type RoleEvent } from "../../src/daemon/driver_host.ts";
import { resourceWorkerPermissions } from "../../src/daemon/_workers.ts";
import { sleep, waitFor } from "../_process.ts";
import {
  AWS_KEY_ID,
  AWS_SECRET,
  FakeCloud,
  FLOATING_IP,
  HETZNER_IP_ID,
  type ProviderName,
  REGION,
  type Seen,
  TOKEN,
} from "./_cloud_fakes.ts";

const PROVIDERS: ProviderName[] = ["digitalocean", "hetzner", "aws"];
const SELF = { digitalocean: "3164444", hetzner: "42", aws: "i-0self" };
const OTHER = { digitalocean: "3164445", hetzner: "43", aws: "i-0other" };

function role(event: "promote" | "demote", term: number): RoleEvent {
  return {
    event,
    reason: event === "promote" ? "elected" : "lease_expired",
    role: event === "promote" ? "master" : "backup",
    term,
    nodeId: "web-1",
    masterId: event === "promote" ? "web-1" : "web-2",
  };
}

function config(
  cloud: FakeCloud,
  extra: Partial<FloatingIpDriverConfig> = {},
): FloatingIpDriverConfig {
  const driver: FloatingIpDriverConfig = {
    type: "floating_ip",
    id: "fip",
    provider: cloud.provider,
    ip: FLOATING_IP,
    token: cloud.provider === "aws" ? `${AWS_KEY_ID}\n${AWS_SECRET}` : TOKEN,
    tokenFile: "/etc/clustd/token",
    apiUrl: cloud.apiUrl,
    metadataUrl: cloud.baseUrl,
    timeoutMs: 1000,
    retries: 4,
    readbackMs: 5000,
    reconcileMs: 60_000,
    ...extra,
  };
  if (cloud.provider === "hetzner") driver.floatingIpId = HETZNER_IP_ID;
  if (cloud.provider === "aws") driver.region = REGION;
  return driver;
}

/** A driver host with one floating_ip driver against `cloud`; closed by the caller. */
async function host(
  cloud: FakeCloud,
  extra: Partial<FloatingIpDriverConfig> = {},
) {
  const drivers = new DriverHost([config(cloud, extra)], {
    nodeId: "web-1",
    webhookKey: new Uint8Array(32),
  });
  await drivers.start();
  return drivers;
}

function counters(drivers: DriverHost): Record<string, number> {
  return drivers.stats()[0]?.resource ?? {};
}

const isAssign = (s: Seen) =>
  (s.method === "POST" && /\/actions(\/assign)?$/.test(s.path)) ||
  s.body.includes("Action=AssociateAddress");

for (const provider of PROVIDERS) {
  Deno.test(`floating_ip (${provider}): promote assigns once per term and reads back after the action`, async () => {
    const cloud = new FakeCloud(provider, {
      selfId: SELF[provider],
      holder: OTHER[provider],
    });
    const drivers = await host(cloud);
    try {
      drivers.dispatch(role("promote", 5));
      await drivers.settled();
      assert.equal(cloud.holder, SELF[provider]);
      assert.equal(cloud.assignments().length, 1);
      assert.equal(cloud.unauthorized, 0);
      const stat = drivers.stats()[0]!;
      assert.equal(stat.failures, 0);
      assert.equal(counters(drivers).assignments, 1);
      if (provider !== "aws") {
        // The action stayed in progress for two polls; completion was awaited.
        const polls = cloud.seen.filter((s) => /\/actions\/\d+$/.test(s.path));
        assert.ok(polls.length >= 3, `${polls.length} action polls`);
      }
      // The same term again (a reload, a repeated event): no second assignment.
      drivers.dispatch(role("promote", 5));
      await drivers.settled();
      assert.equal(cloud.assignments().length, 1);
      // A new term on a node that already holds the IP: read, no assignment.
      drivers.dispatch(role("demote", 5));
      drivers.dispatch(role("promote", 6));
      await drivers.settled();
      assert.equal(cloud.assignments().length, 1);
    } finally {
      await drivers.stop();
      await cloud.close();
    }
  });

  Deno.test(`floating_ip (${provider}): 429 with Retry-After, 500 and a timeout are retried within bounds`, async () => {
    const cloud = new FakeCloud(provider, {
      selfId: SELF[provider],
      holder: OTHER[provider],
    });
    cloud.faults.push(
      { when: isAssign, status: 429, retryAfterS: 1 },
      { when: isAssign, status: 500 },
      { when: isAssign, delayMs: 1500, status: 503 },
    );
    const drivers = await host(cloud, { timeoutMs: 400 });
    try {
      const startedMs = performance.now();
      drivers.dispatch(role("promote", 3));
      await drivers.settled();
      const elapsedMs = performance.now() - startedMs;
      assert.equal(cloud.holder, SELF[provider]);
      const attempts = cloud.assignments();
      assert.equal(attempts.length, 4, "three faults, then success");
      // Retry-After: 1 was honoured between the first and second attempt.
      assert.ok(attempts[1]!.atMs - attempts[0]!.atMs >= 950);
      // Bounded: backoff caps and 4 retries keep this well under 20 s.
      assert.ok(elapsedMs < 20_000, `${elapsedMs} ms`);
      const c = counters(drivers);
      assert.equal(c.api_rate_limited, 1);
      assert.ok((c.api_retries ?? 0) >= 3);
      assert.ok((c.api_errors ?? 0) >= 3);
    } finally {
      await drivers.stop();
      await cloud.close();
    }
  });

  Deno.test(`floating_ip (${provider}): a node demoted while its call is delayed never sends the assignment`, async () => {
    const cloud = new FakeCloud(provider, {
      selfId: SELF[provider],
      holder: OTHER[provider],
    });
    // The holder read before the assignment hangs for 600 ms.
    cloud.faults.push({
      when: (s) =>
        !isAssign(s) && !s.path.includes("meta") && !s.path.includes("token"),
      delayMs: 600,
    });
    const drivers = await host(cloud);
    try {
      drivers.dispatch(role("promote", 7));
      await waitFor(
        () => cloud.seen.length > (provider === "aws" ? 2 : 1),
        3000,
      );
      await sleep(100);
      drivers.dispatch(role("demote", 7));
      await drivers.settled();
      await sleep(800);
      assert.equal(
        cloud.assignments().length,
        0,
        "no assignment after the demote",
      );
      assert.equal(cloud.holder, OTHER[provider]);
      assert.ok((counters(drivers).fenced_calls ?? 0) >= 1);
    } finally {
      await drivers.stop();
      await cloud.close();
    }
  });

  Deno.test(`floating_ip (${provider}): reconcile reassigns a drifted IP while master, not as backup`, async () => {
    const cloud = new FakeCloud(provider, {
      selfId: SELF[provider],
      holder: null,
    });
    cloud.actionPolls = 0;
    const drivers = await host(cloud, { reconcileMs: 150 });
    try {
      drivers.dispatch(role("promote", 2));
      await drivers.settled();
      assert.equal(cloud.holder, SELF[provider]);
      cloud.holder = OTHER[provider];
      assert.ok(
        await waitFor(() => cloud.holder === SELF[provider], 3000),
        "drift repaired",
      );
      // The repair is counted once the read-back confirmed it.
      assert.ok(await waitFor(() => counters(drivers).repairs === 1, 3000));
      assert.equal(cloud.assignments().length, 2);
      drivers.dispatch(role("demote", 2));
      await drivers.settled();
      cloud.holder = OTHER[provider];
      await sleep(500);
      assert.equal(
        cloud.holder,
        OTHER[provider],
        "a backup leaves the IP alone",
      );
      assert.equal(cloud.assignments().length, 2);
    } finally {
      await drivers.stop();
      await cloud.close();
    }
  });
}

Deno.test("floating_ip: a provider that keeps failing is given up after its retries", async () => {
  const cloud = new FakeCloud("digitalocean", {
    selfId: SELF.digitalocean,
    holder: OTHER.digitalocean,
  });
  for (let i = 0; i < 10; i++) {
    cloud.faults.push({ when: isAssign, status: 500 });
  }
  const drivers = await host(cloud, { retries: 2 });
  try {
    drivers.dispatch(role("promote", 1));
    await drivers.settled();
    assert.equal(cloud.assignments().length, 3, "1 attempt + 2 retries");
    assert.equal(drivers.stats()[0]!.failures, 1);
    assert.equal(cloud.holder, OTHER.digitalocean);
  } finally {
    await drivers.stop();
    await cloud.close();
  }
});

Deno.test("floating_ip: the Worker may reach only the API and metadata hosts the config names", () => {
  const base = {
    type: "floating_ip",
    id: "fip",
    provider: "digitalocean",
    ip: FLOATING_IP,
    token: TOKEN,
    tokenFile: "/t",
    apiUrl: "https://api.digitalocean.com",
    metadataUrl: "http://169.254.169.254",
    timeoutMs: 1,
    retries: 0,
    readbackMs: 1,
    reconcileMs: 10,
  } as const;
  assert.deepEqual(resourceWorkerPermissions([base]).net, [
    "api.digitalocean.com:443",
    "169.254.169.254:80",
  ]);
  assert.deepEqual(
    resourceWorkerPermissions([{ ...base, machineId: "1" }]).net,
    [
      "api.digitalocean.com:443",
    ],
  );
  assert.equal(resourceWorkerPermissions([base]).run, false);
});
