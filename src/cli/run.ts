/**
 * `clustd run`: the daemon. Loads and validates the config (exit 2 with every
 * error), starts the node, and on SIGTERM/SIGINT stops gracefully: a master
 * hands over before the process exits.
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

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "Run the daemon",
  usage: `Usage: clustd run

Runs the clustd daemon with the config from --config, $CLUSTD_CONFIG or
./config.yml. Refuses to start (exit 2) when the config has errors.
SIGTERM or SIGINT stop it; a master hands over to the best backup first.`,
  async run(args) {
    const parsed = parseCommandArgs(this, args);
    if (typeof parsed === "number") return parsed;
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    if (parsed.values["log-format"] === undefined) {
      configureLogging({ format: config.log.format });
    }
    const debug = [config.log.debug, readDebugEnv()].filter((s) => s !== "")
      .join(",");
    configureLogging({ debug });
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
    const onSignal = (signal: Deno.Signal) => () => {
      log.info("signal, stopping", { signal });
      daemon.stop().then(stopped.resolve, (error: unknown) => {
        log.error("stop failed", { error: String(error) });
        stopped.resolve();
      });
    };
    // Windows has no SIGTERM; a service manager there sends Ctrl-C (SIGINT).
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT"]
      : ["SIGTERM", "SIGINT"];
    const handlers = signals.map((signal) =>
      [signal, onSignal(signal)] as const
    );
    for (const [signal, handler] of handlers) {
      Deno.addSignalListener(signal, handler);
    }
    await stopped.promise;
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
    return EXIT_OK;
  },
};
