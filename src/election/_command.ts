/**
 * Operator commands: switchover, drain, undrain, shutdown. Each gets exactly
 * one reply effect, now or when its handover finishes (demote_done). Never
 * bypasses the lease: a handover only ever makes the master stop earlier.
 */

import { isMaster, startHandover } from "./_leader.ts";
import { type CoreState, log, peerAlive, peerCanLead } from "./_state.ts";
import { becomeFollower } from "./_transitions.ts";
import type { Command } from "./types.ts";

function reply(
  s: CoreState,
  requestId: string,
  ok: boolean,
  message: string,
): void {
  s.out.push({ kind: "reply", requestId, ok, message });
}

/** Why `to` cannot take over, or null when it can. */
function targetProblem(s: CoreState, to: string): string | null {
  if (to === s.self.id) return `"${to}" is already master`;
  const peer = s.peerById.get(to);
  if (peer === undefined) return `"${to}" is not a member`;
  if (peer.member.role === "witness") {
    return `"${to}" is a witness: it votes but never becomes master`;
  }
  if (!peerAlive(s, peer)) return `"${to}" is not connected`;
  if (!peerCanLead(peer)) {
    return `"${to}" has priority 0: it never becomes master`;
  }
  if (peer.eligible !== true) {
    return `"${to}" is not eligible (failing checks or drained)`;
  }
  return null;
}

/** Handles one command; replies now or when the handover completes. */
export function onCommand(
  s: CoreState,
  requestId: string,
  command: Command,
): void {
  log(s, "info", "command", { type: command.type, requestId });
  switch (command.type) {
    case "switchover":
      return switchover(s, requestId, command.to ?? null);
    case "drain":
      s.drained = true;
      s.lastGossipMs = null;
      return leave(s, requestId, "drain");
    case "undrain":
      s.drained = false;
      s.lastGossipMs = null;
      return reply(
        s,
        requestId,
        true,
        `undrained ${s.self.id}: eligible again if its checks pass`,
      );
    case "shutdown":
      s.shuttingDown = true;
      s.lastGossipMs = null;
      return leave(s, requestId, "shutdown");
  }
}

function switchover(s: CoreState, requestId: string, to: string | null): void {
  if (!isMaster(s, s.nowMs)) {
    const master = s.leaderIsMaster ? s.leaderHeardId : null;
    return reply(
      s,
      requestId,
      false,
      `this node is not master${
        master === null ? "" : ` (master is ${master})`
      }`,
    );
  }
  if (to !== null) {
    const problem = targetProblem(s, to);
    if (problem !== null) return reply(s, requestId, false, problem);
  }
  if (!startHandover(s, { reason: "switchover", to, requestId })) {
    reply(s, requestId, false, "no eligible node to hand over to");
  }
}

/** Drain or shutdown: a master hands over; anyone else just stops campaigning. */
function leave(
  s: CoreState,
  requestId: string,
  reason: "drain" | "shutdown",
): void {
  if (s.handover !== null) {
    return reply(s, requestId, true, `${reason}: handover already in progress`);
  }
  if (isMaster(s, s.nowMs)) {
    if (!startHandover(s, { reason, to: null, requestId })) {
      reply(
        s,
        requestId,
        true,
        `${reason}: no eligible node to hand over to; staying master until one is`,
      );
    }
    return;
  }
  if (s.state !== "follower") becomeFollower(s, s.term, null, reason);
  reply(
    s,
    requestId,
    true,
    reason === "drain"
      ? `drained ${s.self.id}: it will not become master (it was not master)`
      : `${reason}: ${s.self.id} was not master`,
  );
}
