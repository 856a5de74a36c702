/**
 * `clustd run`: the daemon. Loads and validates the config (exit 2 with every
 * error), starts the node, stops gracefully on SIGTERM/SIGINT (a master hands
 * over before the process exits) and reloads on SIGHUP.
 */

import denoJson from "../../deno.json" with { type: "json" };
import { Daemon } from "../daemon/daemon.ts";
import { configureLogging, Logger, readDebugEnv } from "../log.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";

const log = new Logger("daemon");

/** SIGHUP: re-reads the config; applies what may change live, or nothing. */
async function reload(daemon: Daemon, path: string): Promise<void> {
  log.info("SIGHUP: reloading", { config: path });
  const outcome = await daemon.reloadFile();
  if (outcome.ok) log.info("reload done", { result: outcome.message });
  else {
    for (const error of outcome.errors) {
      log.error("reload refused: config error", { error });
    }
    log.warn("reload refused, nothing changed", { reason: outcome.message });
  }
}

/** Registers `handler` for `signals`; returns the function that removes them. */
function listen(signals: Deno.Signal[], handler: () => void): () => void {
  for (const signal of signals) Deno.addSignalListener(signal, handler);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, handler);
  };
}

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "Run the daemon",
  usage: `Usage: clustd run

Runs the clustd daemon with the config from --config, $CLUSTD_CONFIG or
./config.yml. Refuses to start (exit 2) when the config has errors.
SIGTERM or SIGINT stop it; a master hands over to the best backup first.
SIGHUP re-reads the config and applies log settings, cluster.status_allow,
drivers and checks, or refuses (changing nothing) what needs a restart.`,
  async run(args) {
    const parsed = parseCommandArgs(this, args);
    if (typeof parsed === "number") return parsed;
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
      { programs: true },
    );
    if (typeof config === "number") return config;
    if (parsed.values["log-format"] === undefined) {
      configureLogging({ format: config.log.format });
    }
    const debug = [config.log.debug, readDebugEnv()].filter((s) => s !== "");
    configureLogging({ debug: debug.join(",") });
    if (config.cluster.twoNode) {
      log.warn(
        "two_node is on: either node may become master alone, so a network split between them makes two masters; prefer a witness",
      );
    }
    const daemon = new Daemon(config, { version: denoJson.version });
    try {
      await daemon.start();
    } catch (error: unknown) {
      log.error("cannot start", {
        error: error instanceof Error ? error.message : String(error),
      });
      return EXIT_FAILURE;
    }
    const stopped = Promise.withResolvers<void>();
    const windows = Deno.build.os === "windows";
    // Windows has no SIGTERM or SIGHUP; its service managers send Ctrl-C.
    const unlistenStop = listen(
      windows ? ["SIGINT"] : ["SIGTERM", "SIGINT"],
      () => {
        log.info("signal, stopping");
        daemon.stop().then(stopped.resolve, (error: unknown) => {
          log.error("stop failed", { error: String(error) });
          stopped.resolve();
        });
      },
    );
    const unlistenReload = listen(windows ? [] : ["SIGHUP"], () => {
      reload(daemon, config.path).catch((error: unknown) => {
        log.error("reload failed", { error: String(error) });
      });
    });
    await stopped.promise;
    unlistenStop();
    unlistenReload();
    return EXIT_OK;
  },
};
