/**
 * The CLI's side of the control channel: connects to a daemon (the local one
 * from the config, or `--node URL`) with the cluster secret, sends one
 * request and waits for its answer. Never decides anything itself.
 */

import type { Config } from "../config/types.ts";
import { connectChannel } from "../mesh/client.ts";
import type { SecureChannel } from "../mesh/mesh.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import type { FlagValues } from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";

/** How long the CLI waits for a daemon's answer. */
const CONTROL_TIMEOUT_MS = 15_000;

/** The URL of the daemon to talk to: `--node`, else the local listener. */
export function daemonUrl(config: Config, node: string | undefined): string {
  if (node !== undefined) return node;
  const host = config.node.listenHost;
  const local = host === "0.0.0.0" || host === ""
    ? "127.0.0.1"
    : host === "::"
    ? "[::1]"
    : host;
  const bracketed = local.includes(":") && !local.startsWith("[")
    ? `[${local}]`
    : local;
  return `ws://${bracketed}:${config.node.listenPort}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Connects, sends `request`, resolves with the first answer of the wanted type. */
export async function controlRequest(
  url: string,
  secret: Uint8Array,
  request: Record<string, unknown>,
  wanted: string,
): Promise<Record<string, unknown>> {
  let channel: SecureChannel;
  try {
    channel = await connectChannel(url, {
      kind: "control",
      psk: secret,
      selfId: "cli",
    });
  } catch (error: unknown) {
    throw new Error(`cannot reach the daemon at ${url}: ${errorText(error)}`);
  }
  try {
    const answer = Promise.withResolvers<Record<string, unknown>>();
    channel.onMessage((message) => {
      const record = typeof message === "object" && message !== null
        ? message as Record<string, unknown>
        : {};
      if (record["type"] === wanted) answer.resolve(record);
    });
    channel.closed.then((reason) =>
      answer.reject(new Error(`the daemon closed the channel: ${reason}`))
    );
    const timer = setTimeout(
      () =>
        answer.reject(
          new Error(`no answer from ${url} within ${CONTROL_TIMEOUT_MS} ms`),
        ),
      CONTROL_TIMEOUT_MS,
    );
    try {
      channel.send(request);
      return await answer.promise;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    channel.close("done");
    await channel.closed;
  }
}

/** Loads the config, sends a command, prints the reply; returns the exit code. */
export function runControlCommand(
  values: FlagValues,
  command: Record<string, unknown>,
): Promise<number> {
  return runControlRequest(values, { type: "command", command });
}

/** Loads the config, sends `request`, prints its `reply`; returns the exit code. */
export async function runControlRequest(
  values: FlagValues,
  request: Record<string, unknown>,
): Promise<number> {
  const config = await loadConfigOrReport(stringFlag(values, "config"));
  if (typeof config === "number") return config;
  const url = daemonUrl(config, stringFlag(values, "node"));
  try {
    const reply = await controlRequest(
      url,
      config.cluster.secret,
      request,
      "reply",
    );
    const ok = reply["ok"] === true;
    const message = String(reply["message"] ?? "");
    if (ok) console.log(message);
    else console.error(`clustd: refused: ${message}`);
    return ok ? EXIT_OK : EXIT_FAILURE;
  } catch (error: unknown) {
    console.error(`clustd: ${errorText(error)}`);
    return EXIT_FAILURE;
  }
}

/** Validates `--node`: a ws:// or wss:// URL. Returns an error sentence or null. */
export function checkNodeFlag(node: string | undefined): string | null {
  if (node === undefined) return null;
  try {
    const url = new URL(node);
    if (url.protocol === "ws:" || url.protocol === "wss:") return null;
  } catch (_error: unknown) {
    // Reported below.
  }
  return `--node must be a ws:// or wss:// URL, not ${JSON.stringify(node)}`;
}

/**
 * A command that sends `{type: name, node?}` to a daemon (drain, undrain):
 * `ID` names the member it is for (default: the daemon asked); the daemon
 * forwards it there over the peer mesh.
 */
export function simpleControlCommand(
  name: "drain" | "undrain",
  summary: string,
  description: string,
): Command {
  return {
    name,
    summary,
    usage: `Usage: clustd ${name} [ID] [--node URL]

${description}
ID names the member (default: the local node); any member forwards it.

Options:
  --node URL    Talk to the daemon at URL instead of the local one`,
    async run(args) {
      const parsed = parseCommandArgs(this, args, {
        options: { node: { type: "string" } },
        positionalsMax: 1,
      });
      if (typeof parsed === "number") return parsed;
      const bad = checkNodeFlag(stringFlag(parsed.values, "node"));
      if (bad !== null) return usageError(this, bad);
      const id = parsed.positionals[0];
      return await runControlCommand(
        parsed.values,
        id === undefined ? { type: name } : { type: name, node: id },
      );
    },
  };
}
