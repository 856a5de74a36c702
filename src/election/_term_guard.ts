/**
 * The gate between a peer's message and the core's term: a term above
 * TERM_MAX, or more than TERM_JUMP_MAX above what we can vouch for, is
 * refused before it changes anything (with the secret, one message at term
 * 2^53−1 once left a cluster without a master for good: every campaign then
 * proposed an unsafe integer). A refusal is logged as a warning at most once
 * per peer per election timeout, with a count of the ones since; the others
 * are debug lines, so the shell's event counter still sees every one.
 */

import { messageTerms, TERM_JUMP_MAX, TERM_MAX } from "./message.ts";
import type { Message } from "./message.ts";
import { type CoreState, log, type PeerView } from "./_state.ts";

/**
 * The highest term at least two peers have reported (0 with fewer than two
 * peers): a rebuilt node with an empty state_dir catches up to a term its
 * peers agree on, while a single peer cannot vouch for its own jump.
 */
export function vouchedTerm(s: CoreState): number {
  if (s.peers.length < 2) return 0;
  let first = 0;
  let second = 0;
  for (const peer of s.peers) {
    const term = peer.reportedTerm;
    if (term > first) [first, second] = [term, first];
    else if (term > second) second = term;
  }
  return second;
}

/** Why `message` must be refused for its terms, or null when they are sane. */
export function termProblem(
  s: CoreState,
  message: Message,
): string | null {
  const base = Math.max(s.term, vouchedTerm(s));
  for (const term of messageTerms(message)) {
    if (term > TERM_MAX) return "term_above_max";
    if (term > base + TERM_JUMP_MAX) return "term_jump";
  }
  return null;
}

/**
 * Records the term `peer` reports and decides whether its message may reach
 * the core; logs a refusal (rate-limited per peer). True when admitted.
 */
export function admitTerms(
  s: CoreState,
  peer: PeerView,
  message: Message,
): boolean {
  // Only the sender's own term vouches; a term above the ceiling never does.
  if (message.term <= TERM_MAX && message.term > peer.reportedTerm) {
    peer.reportedTerm = message.term;
  }
  const reason = termProblem(s, message);
  if (reason === null) return true;
  const refusals = peer.termRefusals;
  const warn = refusals.loggedMs === null ||
    s.nowMs - refusals.loggedMs >= s.opts.electionTimeoutMs;
  log(s, warn ? "warn" : "debug", "term_refused", {
    from: peer.member.id,
    type: message.type,
    msgTerm: Math.max(...messageTerms(message)),
    reason,
    termMax: TERM_MAX,
    jumpMax: TERM_JUMP_MAX,
    vouchedTerm: vouchedTerm(s),
    notWarned: warn ? refusals.notWarned : refusals.notWarned + 1,
  });
  if (warn) {
    refusals.loggedMs = s.nowMs;
    refusals.notWarned = 0;
  } else {
    refusals.notWarned++;
  }
  return false;
}
