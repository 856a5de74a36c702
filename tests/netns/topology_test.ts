/**
 * Tests of the network-namespace test hosts: hosts reach each other through
 * the bridge, partitions and pulled links block traffic, heal restores it,
 * and destroy leaves no namespace behind, also when the process is ended by
 * SIGINT, SIGTERM or SIGHUP. Skipped when not root on Linux.
 * Probes run `deno eval` inside the namespaces; every probe has a timeout.
 */
import assert from "node:assert/strict";
import { killQuietly, runCommand, waitAtMost, waitFor } from "../_process.ts";
import {
  createTopology,
  listNamespaces,
  type Topology,
  topologySupported,
} from "./_topology.ts";

const supported = await topologySupported();
const PROBE_PORT = 7999;
const PROBE_TIMEOUT_MS = 700;

// Connects to each target; a refused connection proves packets flow both ways
// (SYN in, RST back), a timeout means they do not.
const PROBE_SCRIPT = `
const [port, timeoutMs, ...targets] = Deno.args;
const results = {};
await Promise.all(targets.map(async (hostname) => {
  let timer;
  const timeout = new Promise((resolve) => timer = setTimeout(() => resolve("blocked"), Number(timeoutMs)));
  const attempt = Deno.connect({ hostname, port: Number(port) }).then(
    (conn) => { conn.close(); return "reach"; },
    (error) => error instanceof Deno.errors.ConnectionRefused ? "reach" : "error:" + error.name,
  );
  results[hostname] = await Promise.race([attempt, timeout]);
  clearTimeout(timer);
}));
console.log(JSON.stringify(results));
Deno.exit(0);
`;

/** Reachability from every host to every other host, as "n1>n2" keys. */
async function matrix(topology: Topology): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(topology.hosts.map(async (from) => {
    const targets = topology.hosts.filter((h) => h !== from);
    const result = await topology.exec(from, [
      Deno.execPath(),
      ...[
        "eval",
        "-q",
        PROBE_SCRIPT,
        String(PROBE_PORT),
        String(PROBE_TIMEOUT_MS),
      ],
      ...targets.map((h) => h.address),
    ]);
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as Record<string, string>;
    for (const to of targets) {
      out.set(`${from.name}>${to.name}`, parsed[to.address] ?? "missing");
    }
  }));
  return out;
}

function blocked(reach: Map<string, string>): string[] {
  return [...reach].filter(([, v]) => v !== "reach").map(([k]) => k).sort();
}

Deno.test({
  name: "netns hosts exchange data over the bridge on 198.18.0.0/24",
  ignore: !supported,
  fn: async () => {
    const topology = await createTopology(3);
    try {
      assert.deepEqual(topology.hosts.map((h) => h.address), [
        "198.18.0.11",
        "198.18.0.12",
        "198.18.0.13",
      ]);
      const server = topology.spawn("n1", [
        Deno.execPath(),
        "eval",
        "-q",
        `const l = Deno.listen({ hostname: "198.18.0.11", port: ${PROBE_PORT} });
         console.log("ready");
         const c = await l.accept(); const b = new Uint8Array(16); const n = await c.read(b);
         await c.write(b.subarray(0, n ?? 0)); c.close(); l.close();`,
      ], { stdout: "piped" });
      const reader = server.stdout.getReader();
      const first = await reader.read();
      reader.releaseLock();
      assert.match(new TextDecoder().decode(first.value), /ready/);
      const client = await topology.exec("n2", [
        Deno.execPath(),
        "eval",
        "-q",
        `const c = await Deno.connect({ hostname: "198.18.0.11", port: ${PROBE_PORT} });
         await c.write(new TextEncoder().encode("ping-n2")); const b = new Uint8Array(16);
         const n = await c.read(b); console.log(new TextDecoder().decode(b.subarray(0, n ?? 0)));`,
      ]);
      assert.equal(client.stdout.trim(), "ping-n2", client.stderr);
      assert.equal((await server.status).code, 0);
      await server.stdout.cancel();
    } finally {
      await topology.destroy();
    }
  },
});

Deno.test({
  name:
    "partition blocks traffic (both ways or one way), heal restores it, destroy removes all",
  ignore: !supported,
  fn: async () => {
    const topology = await createTopology(3);
    const prefix = topology.prefix;
    try {
      assert.equal((await listNamespaces(prefix)).length, 4);
      assert.deepEqual(blocked(await matrix(topology)), []);

      await topology.partition("n1", "n2");
      assert.deepEqual(blocked(await matrix(topology)), ["n1>n2", "n2>n1"]);

      await topology.heal();
      await topology.partition("n1", "n3", { oneWay: true });
      // n1's packets never reach n3, so a connection fails from both sides.
      const oneWay = await matrix(topology);
      assert.deepEqual(blocked(oneWay), ["n1>n3", "n3>n1"]);

      await topology.heal();
      await topology.isolate("n2");
      assert.deepEqual(blocked(await matrix(topology)), [
        "n1>n2",
        "n2>n1",
        "n2>n3",
        "n3>n2",
      ]);

      await topology.heal();
      await topology.linkDown("n3");
      assert.deepEqual(blocked(await matrix(topology)), [
        "n1>n3",
        "n2>n3",
        "n3>n1",
        "n3>n2",
      ]);

      await topology.heal();
      assert.deepEqual(blocked(await matrix(topology)), []);
    } finally {
      await topology.destroy();
    }
    assert.deepEqual(await listNamespaces(prefix), []);
  },
});

Deno.test({
  name: "destroy kills processes spawned in the hosts",
  ignore: !supported,
  fn: async () => {
    const topology = await createTopology(2);
    const child = topology.spawn("n2", ["sleep", "30"]);
    await topology.destroy();
    const status = await child.status;
    assert.equal(status.success, false);
    assert.equal(status.signal, "SIGKILL");
    assert.deepEqual(await listNamespaces(topology.prefix), []);
  },
});

// A process that builds a topology, starts `sleep` in a host, prints
// "<prefix> <sleep pid>" and waits to be signalled.
const OWNER_SCRIPT = `
import { createTopology } from ${
  JSON.stringify(
    new URL("./_topology.ts", import.meta.url).href,
  )
};
const topology = await createTopology(2);
const child = topology.spawn("n1", ["sleep", "30"]);
console.log(topology.prefix, child.pid);
await new Promise((resolve) => setTimeout(resolve, 30_000));
`;
const SIGNAL_EXIT_MS = 10_000;

for (
  const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], [
    "SIGHUP",
    129,
  ]] as const
) {
  Deno.test({
    name:
      `a process ended by ${signal} removes its namespaces and kills what it started in them`,
    ignore: !supported,
    fn: async () => {
      const owner = new Deno.Command(Deno.execPath(), {
        args: ["eval", "-q", OWNER_SCRIPT],
        stdin: "null",
        stdout: "piped",
      }).spawn();
      let prefix = "";
      try {
        const reader = owner.stdout.getReader();
        const first = await reader.read();
        reader.releaseLock();
        const [name, pid] = new TextDecoder().decode(first.value).trim()
          .split(" ");
        prefix = name ?? "";
        assert.equal((await listNamespaces(prefix)).length, 3);
        owner.kill(signal);
        const exited = await waitAtMost(owner.status, SIGNAL_EXIT_MS);
        assert.equal(
          exited,
          "done",
          `still running ${SIGNAL_EXIT_MS} ms after ${signal}`,
        );
        assert.equal((await owner.status).code, code);
        assert.deepEqual(await listNamespaces(prefix), []);
        const gone = await waitFor(() => {
          try {
            Deno.statSync(`/proc/${pid}`);
            return false;
          } catch (_error: unknown) {
            return true; // No such process any more.
          }
        }, 2000);
        assert.ok(gone, `sleep (pid ${pid}) still runs after ${signal}`);
      } finally {
        await owner.stdout.cancel();
        await removeLeftovers(owner, prefix);
      }
    },
  });
}

/** After a failed run: ends the owner and deletes the namespaces it left (ours, by prefix). */
async function removeLeftovers(
  owner: Deno.ChildProcess,
  prefix: string,
): Promise<void> {
  try {
    owner.kill("SIGKILL");
  } catch (_error: unknown) {
    // It exited, as it should have.
  }
  await owner.status;
  if (prefix === "") return;
  for (const ns of await listNamespaces(prefix)) {
    const pids = await runCommand(["ip", "netns", "pids", ns]);
    for (const pid of pids.stdout.split("\n").filter((l) => l !== "")) {
      killQuietly(Number(pid), "SIGKILL");
    }
    await runCommand(["ip", "netns", "del", ns]);
  }
}
