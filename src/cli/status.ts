/** `clustd status`: asks a daemon for its view of the cluster over the control channel. */

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
import { checkNodeFlag, controlRequest, daemonUrl } from "./_control.ts";

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
  const head = [
    `node ${status.id}: ${status.role}, term ${status.term}, quorum ${
      cell(status.quorum)
    }, eligible ${cell(status.eligible)}${status.drained ? " (drained)" : ""}`,
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
  summary: "Show the cluster as a daemon sees it",
  usage: `Usage: clustd status [--json] [--node URL]

Shows the role, term, master and members as the local daemon (address and
credentials from --config) or the daemon at --node URL sees them.

Options:
  --json        Print the status as JSON
  --node URL    Ask the daemon at URL instead of the local one`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: { json: { type: "boolean" }, node: { type: "string" } },
    });
    if (typeof parsed === "number") return parsed;
    const node = stringFlag(parsed.values, "node");
    const bad = checkNodeFlag(node);
    if (bad !== null) return usageError(this, bad);
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    const url = daemonUrl(config, node);
    try {
      const answer = await controlRequest(url, config.cluster.secret, {
        type: "status",
      }, "status");
      const status = answer["status"] as StatusSnapshot;
      console.log(
        parsed.values["json"] === true
          ? JSON.stringify(status, null, 2)
          : statusTable(status),
      );
      return EXIT_OK;
    } catch (error: unknown) {
      console.error(
        `clustd: ${error instanceof Error ? error.message : String(error)}`,
      );
      return EXIT_FAILURE;
    }
  },
};
