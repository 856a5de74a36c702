/**
 * The vip driver with an IPv6 address, in a network namespace: on promote the
 * address is added (no DAD wait) and an unsolicited neighbour advertisement
 * (`na6`, override flag) moves a client's stale neighbour entry to this
 * node's MAC; on demote the address is removed. Skipped when not root with
 * `ip`, `nft` and `na6`.
 */
import assert from "node:assert/strict";
import { runCommand, waitFor } from "../_process.ts";
import { createTopology, topologySupported } from "./_topology.ts";
import { macOf } from "./_vip_client.ts";

const VIP = "2001:db8::100";
const NA6 = "/usr/sbin/na6";
const IP = "/usr/sbin/ip";

function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (_error: unknown) {
    return false;
  }
}

const supported = await topologySupported() && installed(NA6) &&
  installed(IP);

async function neighbour6(ns: string): Promise<string> {
  const out = await runCommand(["ip", "-n", ns, "-6", "neigh", "show", VIP]);
  return /lladdr ([0-9a-f:]{17})/.exec(out.stdout)?.[1] ?? "";
}

Deno.test({
  name:
    "vip (IPv6): promote adds the address and an unsolicited NA moves the client's entry; demote removes it",
  ignore: !supported,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const topology = await createTopology(2);
  const node = topology.hosts[0]!;
  const client = topology.hosts[1]!;
  const driver = topology.spawn(node, [
    Deno.execPath(),
    ...["run", "-A", "--unstable-worker-options", "-q"],
    new URL("./_vip_driver_main.ts", import.meta.url).pathname,
    ...[`${VIP}/64`, "eth0", IP, NA6],
  ], { stdout: "piped" });
  const lines = driver.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let seen = "";
  const expect = async (pattern: RegExp) => {
    while (!pattern.test(seen)) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`driver ended; output: ${seen}`);
      seen += value;
    }
    seen = "";
  };
  const holds = async () => {
    const out = await topology.exec(node, [
      "ip",
      "-6",
      "-o",
      "addr",
      "show",
      "dev",
      "eth0",
    ]);
    return out.stdout.includes(`inet6 ${VIP}/64`);
  };
  try {
    await expect(/ready/);
    // The client believes the VIP is at another MAC (a stale entry).
    await topology.exec(client, [
      ...["ip", "-6", "neigh", "add", VIP, "lladdr", "02:00:00:00:00:01"],
      ...["dev", "eth0", "nud", "stale"],
    ]);
    assert.equal(await neighbour6(client.ns), "02:00:00:00:00:01");
    driver.kill("SIGUSR1");
    await expect(/applied promote/);
    assert.ok(await holds(), "address added");
    const mac = await macOf(topology, node);
    assert.ok(
      await waitFor(async () => await neighbour6(client.ns) === mac, 3000),
      `client's entry moved to ${mac}: ${await neighbour6(client.ns)}`,
    );
    driver.kill("SIGUSR2");
    await expect(/applied demote/);
    assert.equal(await holds(), false, "address removed");
    // A backup that finds the address (added by hand) removes it.
    await topology.exec(node, [
      "ip",
      "-6",
      "addr",
      "add",
      `${VIP}/64`,
      "dev",
      "eth0",
      "nodad",
    ]);
    assert.ok(
      await waitFor(async () => !await holds(), 3000),
      "reconcile removed it",
    );
  } finally {
    lines.releaseLock();
    driver.kill("SIGKILL");
    await driver.status;
    await topology.destroy();
  }
});
