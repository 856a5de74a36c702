/**
 * One side of the etcd client comparison (etcd_client_bench.ts): imports a
 * client (`fetch` = src/etcd, `npm` = the etcd3 package), reads one key, keeps
 * a lease alive for IDLE_MS, then prints JSON {startMs, rssBytes}. Run as its
 * own process so each figure is that client's alone.
 */

/** How long the probe idles with a live lease before RSS is read. */
const IDLE_MS = 3000;

const [kind, endpoint] = Deno.args;
if (endpoint === undefined || (kind !== "fetch" && kind !== "npm")) {
  console.error("usage: _etcd_probe.ts fetch|npm ENDPOINT");
  Deno.exit(2);
}
const t0 = performance.now();
if (kind === "fetch") {
  const { EtcdClient } = await import("../../src/etcd/client.ts");
  const client = new EtcdClient({ endpoints: [endpoint] });
  await client.range("/probe");
  const startMs = performance.now() - t0;
  const lease = await client.leaseGrant(5);
  const timer = setInterval(() => client.leaseKeepAlive(lease.id), 1000);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  clearInterval(timer);
  report(startMs);
} else {
  const specifier = "npm:etcd3@1.1.2";
  const { Etcd3 } = await import(specifier);
  const client = new Etcd3({ hosts: endpoint });
  await client.get("/probe").string();
  const startMs = performance.now() - t0;
  const lease = client.lease(5);
  await lease.grant();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  report(startMs);
}
Deno.exit(0);

function report(startMs: number): void {
  const status = Deno.readTextFileSync("/proc/self/status");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  console.log(
    JSON.stringify({
      kind,
      startMs: Math.round(startMs),
      rssBytes: rssKb * 1024,
    }),
  );
}
