/**
 * `clustd status` and `clustd history` across the cluster: asks the local
 * daemon for its status, then (through it, over the peer mesh) for every
 * member's own view or history, and renders them. A member that does not
 * answer is marked unreachable; the rest still print. Members that name
 * different masters are flagged as a disagreement.
 */

import type { StatusSnapshot } from "../http/handler.ts";
import type { Transition } from "../daemon/history.ts";
import { type MemberView, parseMemberView } from "../daemon/member_view.ts";
import { parseTransition } from "../daemon/history.ts";
import type { ControlSession } from "./_session.ts";

/** Longest wait for one member's answer (the daemon waits 2 s per peer). */
const MEMBER_TIMEOUT_MS = 5000;

/** One member's row: its own view, or why it could not be asked. */
export interface MemberRow {
  id: string;
  url: string;
  view: MemberView | null;
  error: string | null;
}

/** The whole cluster as `clustd status --json` prints it. */
export interface ClusterStatus {
  asked: string;
  members: MemberRow[];
  /** Sentences naming disagreements (two members naming different masters). */
  disagreements: string[];
}

/** The local status (also the member list). */
export async function localStatus(
  session: ControlSession,
): Promise<StatusSnapshot> {
  const answer = await session.request(
    { type: "status" },
    (a) => a["type"] === "status",
    MEMBER_TIMEOUT_MS,
  );
  return answer["status"] as StatusSnapshot;
}

async function askMember(
  session: ControlSession,
  type: "member_status" | "history",
  node: string,
): Promise<Record<string, unknown>> {
  const id = `${type}-${node}`;
  try {
    return await session.request(
      { type, id, node },
      (a) => a["type"] === type && a["id"] === id,
      MEMBER_TIMEOUT_MS,
    );
  } catch (error: unknown) {
    return {
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Every member's own view, asked in parallel. */
export async function gatherStatus(
  session: ControlSession,
): Promise<ClusterStatus> {
  const local = await localStatus(session);
  const members = await Promise.all(local.members.map(async (member) => {
    const answer = await askMember(session, "member_status", member.id);
    const view = answer["ok"] === true ? parseMemberView(answer["view"]) : null;
    const error = view !== null
      ? null
      : `unreachable: ${String(answer["message"] ?? "malformed answer")}`;
    return { id: member.id, url: member.url, view, error };
  }));
  return { asked: local.id, members, disagreements: disagreements(members) };
}

/** Sentences naming members that follow different masters. */
export function disagreements(rows: MemberRow[]): string[] {
  const byMaster = new Map<string, string[]>();
  for (const row of rows) {
    const master = row.view?.master;
    if (master === undefined || master === null) continue;
    byMaster.set(master, [...byMaster.get(master) ?? [], row.id]);
  }
  const selfMasters = rows.filter((r) => r.view?.role === "master")
    .map((r) => r.id);
  const out: string[] = [];
  if (byMaster.size > 1) {
    out.push(
      `members disagree on the master: ${
        [...byMaster].map(([m, ids]) =>
          `${ids.join(", ")} name${ids.length === 1 ? "s" : ""} ${m}`
        ).join(
          "; ",
        )
      }`,
    );
  }
  if (selfMasters.length > 1) {
    out.push(
      `more than one member says it is master: ${selfMasters.join(", ")}`,
    );
  }
  return out;
}

/** Every member's history merged by time (duplicates dropped). */
export async function gatherHistory(
  session: ControlSession,
): Promise<{ entries: Transition[]; unreachable: string[] }> {
  const local = await localStatus(session);
  const unreachable: string[] = [];
  const all: Transition[] = [];
  await Promise.all(local.members.map(async (member) => {
    const answer = await askMember(session, "history", member.id);
    const entries = answer["entries"];
    if (answer["ok"] !== true || !Array.isArray(entries)) {
      unreachable.push(`${member.id} (${String(answer["message"] ?? "?")})`);
      return;
    }
    for (const entry of entries) {
      const parsed = parseTransition(entry);
      if (parsed !== null) all.push(parsed);
    }
  }));
  const seen = new Set<string>();
  const entries = all.sort((a, b) =>
    a.time < b.time ? -1 : a.time > b.time ? 1 : 0
  ).filter((e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { entries, unreachable: unreachable.sort() };
}

function cell(value: string | number | boolean | null): string {
  if (value === null) return "-";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/** 3725000 → "1h02m", 65000 → "1m05s", 4000 → "4s". */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s >= 86400) {
    return `${Math.floor(s / 86400)}d${pad(Math.floor(s % 86400 / 3600))}h`;
  }
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${pad(Math.floor(s % 3600 / 60))}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

/** Left-aligned columns, two spaces apart. */
export function columns(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (r: string[]) =>
    r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The table `clustd status` prints. */
export function clusterTable(status: ClusterStatus): string {
  const header = [
    "ID",
    "ROLE",
    "TERM",
    "MASTER",
    "LEASE_MS",
    "ELIGIBLE",
    "DRAINED",
    "PAUSED",
    "PRIO",
    "VERSION",
    "UPTIME",
    "CONNECTED",
  ];
  const rows = status.members.map((row) => {
    const v = row.view;
    if (v === null) {
      return [
        row.id,
        "?",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        row.error ?? "",
      ];
    }
    return [
      row.id,
      v.role,
      cell(v.term),
      cell(v.master),
      v.role === "master" ? cell(v.lease_remaining_ms) : "-",
      cell(v.eligible),
      cell(v.drained),
      cell(v.paused),
      cell(v.priority),
      v.version,
      formatUptime(v.uptime_ms),
      v.connected.length === 0 ? "none" : v.connected.join(","),
    ];
  });
  const masters = status.members.filter((r) => r.view?.role === "master");
  const paused = status.members.some((r) => r.view?.paused === true);
  const head = `cluster (asked ${status.asked}): ${
    masters.length === 0
      ? "no master"
      : `master ${masters.map((r) => r.id).join(", ")}`
  }${paused ? "; PAUSED: no automatic failover (clustd resume)" : ""}`;
  const notes = status.members.flatMap((row) =>
    row.view !== null && !row.view.eligible && row.view.role !== "witness"
      ? [`${row.id} not eligible: ${row.view.ineligible.join("; ")}`]
      : []
  );
  const warnings = status.disagreements.map((d) => `!! ${d}`);
  return [
    head,
    ...warnings,
    "",
    ...columns(header, rows),
    ...(notes.length > 0 ? ["", ...notes] : []),
  ]
    .join("\n");
}

/** The table `clustd history` prints. */
export function historyTable(entries: Transition[]): string {
  if (entries.length === 0) return "no role transitions recorded yet";
  return columns(
    ["TIME", "TERM", "NODE", "FROM", "TO", "REASON"],
    entries.map((
      e,
    ) => [e.time, String(e.term), e.node, e.from, e.to, e.reason]),
  ).join("\n");
}
