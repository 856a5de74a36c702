/**
 * Runs one vip driver (the production DriverHost and Worker) inside the
 * network namespace it is started in, for tests of what it does to that
 * namespace: SIGUSR1 promotes (next term), SIGUSR2 demotes; after each it
 * prints `applied promote` / `applied demote`. Prints `ready` once started.
 *
 * Usage: deno run -A --unstable-worker-options _vip_driver_main.ts ADDRESS IFACE IP ANNOUNCE
 */
import { DriverHost } from "../../src/daemon/driver_host.ts";

const [address = "", iface = "eth0", ipProgram = "", announceProgram = ""] =
  Deno.args;
const host = new DriverHost([{
  type: "vip",
  id: "vip",
  address,
  interface: iface,
  announceCount: 3,
  announceIntervalMs: 500,
  reconcileMs: 200,
  ipProgram,
  announceProgram,
}], { nodeId: "n1", webhookKey: new Uint8Array(32) });
await host.start();
let term = 0;

async function apply(promote: boolean): Promise<void> {
  if (promote) term++;
  host.dispatch({
    event: promote ? "promote" : "demote",
    reason: promote ? "elected" : "lease_expired",
    role: promote ? "master" : "backup",
    term,
    nodeId: "n1",
    masterId: promote ? "n1" : null,
  });
  await host.settled();
  console.log(promote ? "applied promote" : "applied demote");
}

Deno.addSignalListener("SIGUSR1", () => void apply(true));
Deno.addSignalListener("SIGUSR2", () => void apply(false));
console.log("ready");
