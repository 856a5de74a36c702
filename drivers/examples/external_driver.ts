/**
 * An example external driver built on `drivers/sdk.ts`: logs every role
 * change of the local node and, as its example action, writes the current
 * role to a state file (atomically: write a temp file, then rename), e.g.
 * `master 7 web-1`. Replace `applyRole` with your own action.
 *
 *   deno run --allow-net --allow-read --allow-write --allow-env=DEBUG \
 *     drivers/examples/external_driver.ts --url ws://127.0.0.1:7400 \
 *     --token-file /etc/clustd/my-driver.key --id my-driver \
 *     --state-file /run/my-driver.state
 *
 * The node's config needs `cluster.driver_token_file` and a drivers entry
 * `{type: external, id: my-driver}`; the key file holds what
 * `clustd derive-key driver my-driver` prints on that node (a key bound to
 * this id, not the driver token itself). `--allow-write` is only needed
 * with `--state-file`. Exits 0 on SIGINT/SIGTERM, 2 on bad arguments or a
 * malformed key file; a node that refuses the key is retried (and logged).
 * Never takes a role itself: it only acts on what the daemon tells it.
 */

import { parseArgs } from "node:util";
import { connectDriver, type DriverEvent, readTokenFile } from "../sdk.ts";

const USAGE =
  "Usage: external_driver.ts --url ws://HOST:PORT --token-file FILE --id DRIVER_ID [--state-file FILE]";

function log(message: string, fields: Record<string, unknown> = {}): void {
  const extra = Object.entries(fields).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  console.error([new Date().toISOString(), message, ...extra].join(" "));
}

/** The example action: the role, term and master, one line, replaced atomically. */
async function applyRole(event: DriverEvent, path: string): Promise<void> {
  const line = `${event.role} ${event.term} ${event.masterId ?? "-"}\n`;
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, line);
  await Deno.rename(temporary, path);
}

function readArgs(): Record<string, string> | string {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        url: { type: "string" },
        "token-file": { type: "string" },
        id: { type: "string" },
        "state-file": { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
  const missing = ["url", "token-file", "id"].filter((k) => !values[k]);
  if (missing.length > 0) return `missing --${missing.join(", --")}`;
  return Object.fromEntries(
    Object.entries(values).filter((e): e is [string, string] => !!e[1]),
  );
}

async function main(): Promise<number> {
  const args = readArgs();
  if (typeof args === "string") {
    console.error(`${args}\n${USAGE}`);
    return 2;
  }
  const stateFile = args["state-file"];
  let token: Uint8Array;
  try {
    token = await readTokenFile(args["token-file"]!);
  } catch (error: unknown) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const driver = connectDriver({
    url: args["url"]!,
    token,
    driverId: args["id"]!,
    signal: stop.signal,
    async onEvent(event) {
      log(event.event, {
        role: event.role,
        term: event.term,
        node: event.nodeId,
        master: event.masterId,
        source: event.source,
        reason: event.reason,
      });
      if (stateFile !== undefined) await applyRole(event, stateFile);
    },
    onStatus(status) {
      const { kind, ...fields } = status;
      log(kind, fields);
    },
  });
  try {
    await driver.done;
    log("stopped");
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
