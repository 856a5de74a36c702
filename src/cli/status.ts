/**
 * `clustd status`: every member's own view, gathered through one daemon over
 * the control channel and the peer mesh (`--local`: one daemon's view).
 */

import type { MemberSnapshot, StatusSnapshot } from "../http/handler.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";
import { checkNodeFlag, daemonUrl } from "./_control.ts";
import { clusterTable, gatherStatus, localStatus } from "./_cluster_view.ts";
import { ControlSession } from "./_session.ts";

function cell(value: string | number | boolean | null): string {
  if (value === null) return "-";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** Renders the readable table of `clustd status`. */
export function statusTable(status: StatusSnapshot): string {
  const since = status.master_since === null
    ? ""
    : ` since ${status.master_since}`;
  const why = status.eligible
    ? ""
    : ` (${(status.ineligible ?? []).join("; ")})`;
  const head = [
    `node ${status.id}: ${status.role}, term ${status.term}, quorum ${
      cell(status.quorum)
    }, eligible ${cell(status.eligible)}${why}${
      status.paused ? ", cluster PAUSED" : ""
    }`,
    `master: ${status.master ?? "none"}${
      status.role === "master" ? since : ""
    }`,
    "",
  ];
  const header = [
    "ID",
    "ROLE",
    "PRIO",
    "CONNECTED",
    "RTT_MS",
    "LAST_SEEN_MS",
    "ELIGIBLE",
    "URL",
  ];
  const rows = status.members.map((m: MemberSnapshot) => [
    m.id,
    m.role,
    cell(m.priority),
    cell(m.connected),
    cell(m.rtt_ms),
    cell(m.last_seen_ms),
    cell(m.eligible),
    m.url,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (r: string[]) =>
    r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [...head, line(header), ...rows.map(line)].join("\n");
}

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "Show every member's own view of the cluster",
  usage: `Usage: clustd status [--json] [--local] [--node URL]

Asks the local daemon (address and credentials from --config), or the
daemon at --node URL, and through it every member over the peer mesh, for
its own view: role, term, the master it follows, lease remaining, eligible
(and why not), drained, paused, priority, version, uptime and connected
peers. An unreachable member is marked; members that name different masters
are flagged with "!!".

Options:
  --json        Print the views as JSON
  --local       Only the asked daemon's own view with its member table
  --node URL    Ask the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: {
        json: { type: "boolean" },
        local: { type: "boolean" },
        node: { type: "string" },
      },
    });
    if (typeof parsed === "number") return parsed;
    const node = stringFlag(parsed.values, "node");
    const bad = checkNodeFlag(node);
    if (bad !== null) return usageError(this, bad);
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    const json = parsed.values["json"] === true;
    try {
      const session = await ControlSession.open(
        daemonUrl(config, node),
        config.cluster.secret,
      );
      try {
        if (parsed.values["local"] === true) {
          const status = await localStatus(session);
          console.log(
            json ? JSON.stringify(status, null, 2) : statusTable(status),
          );
        } else {
          const cluster = await gatherStatus(session);
          console.log(
            json ? JSON.stringify(cluster, null, 2) : clusterTable(cluster),
          );
        }
      } finally {
        await session.close();
      }
      return EXIT_OK;
    } catch (error: unknown) {
      console.error(
        `clustd: ${error instanceof Error ? error.message : String(error)}`,
      );
      return EXIT_FAILURE;
    }
  },
};
