/**
 * The simulator's safety and stability checkers, run after every event:
 *   1. no two nodes act as master at the same real time (from promote until
 *      demote or the lease's end on the node's own clock; a paused or crashed
 *      node's lease still counts);
 *   2. at most one master per term (the fencing token is unique);
 *   4. in a stable network with a healthy master, nobody starts an election;
 *   5. (world.ts) no node promotes while a stepped-down master's demote hook
 *      runs, for hooks within the budget (schedule.ts stepDownBudgetMs).
 * Checker 3 (liveness) lives in schedule.ts, which owns the phases.
 */

import type { Effect } from "../../src/election/types.ts";

/** What the checkers need to know about a node. */
export interface CheckedNode {
  id: string;
  /** Promoted in this term and not demoted yet. */
  masterTerm: number | null;
  /** Real time its lease ends, as of its last step. */
  leaseEndMs: number;
}

/** Reports one violation: which check, and what happened. */
export type Fail = (check: string, message: string) => void;

/** Checker state of one schedule (bounded: one entry per term and per crash). */
export class Checkers {
  /** Set while checker 4 watches: the time the first master appeared. */
  stableSinceMs: number | null = null;
  readonly #fail: Fail;
  readonly #electionTimeoutMs: number;
  readonly #termMaster = new Map<number, string>();
  readonly #ghosts: { id: string; endMs: number }[] = [];

  constructor(fail: Fail, electionTimeoutMs: number) {
    this.#fail = fail;
    this.#electionTimeoutMs = electionTimeoutMs;
  }

  /** Checker 2 on every promotion. */
  promoted(node: CheckedNode, term: number): void {
    const previous = this.#termMaster.get(term);
    if (previous !== undefined && previous !== node.id) {
      this.#fail(
        "one master per term",
        `${node.id} promoted in term ${term}, already won by ${previous}`,
      );
    }
    this.#termMaster.set(term, node.id);
  }

  /**
   * A rebuilt node forgot its votes, like Raft with a lost disk: a term may
   * then be won twice (never at the same time, which checker 1 still
   * proves), so checker 2 restarts its per-term record.
   */
  stateLost(): void {
    this.#termMaster.clear();
  }

  /** A crashed master's lease still counts until it ends. */
  crashed(node: CheckedNode): void {
    if (node.masterTerm !== null) {
      this.#ghosts.push({ id: node.id, endMs: node.leaseEndMs });
    }
  }

  /** Checker 4 on demotions and decision logs. */
  decision(node: CheckedNode, nowMs: number, effect: Effect): void {
    if (this.stableSinceMs === null) return;
    if (effect.kind === "demote") {
      // Preemption hands over to a better node on purpose: the watch for
      // unwanted elections restarts at the next promotion.
      if (effect.reason === "preempted") this.stableSinceMs = null;
      else this.#fail("stability", `${node.id} demoted in a stable network`);
      return;
    }
    if (effect.kind !== "log") return;
    // A real vote is an election; a pre-vote or a term change is tolerated
    // only while the news of the first master is still in flight (E).
    const settled = nowMs - this.stableSinceMs >= this.#electionTimeoutMs;
    if (
      effect.event === "campaign" && (effect.fields.phase === "vote" || settled)
    ) {
      this.#fail(
        "stability",
        `${node.id} campaigned (${effect.fields.phase}) in a stable network with a healthy master`,
      );
    } else if (effect.event === "term_adopted" && settled) {
      this.#fail("stability", `${node.id} changed term in a stable network`);
    }
  }

  /** Nodes acting as master at `nowMs`, crashed ones marked. */
  actingMasters(nodes: readonly CheckedNode[], nowMs: number): string[] {
    const ids: string[] = [];
    for (const node of nodes) {
      if (node.masterTerm !== null && nowMs < node.leaseEndMs) {
        ids.push(node.id);
      }
    }
    for (const ghost of this.#ghosts) {
      if (nowMs < ghost.endMs) ids.push(`${ghost.id}(crashed)`);
    }
    return ids;
  }

  /** Checker 1 after every event. */
  afterEvent(nodes: readonly CheckedNode[], nowMs: number): void {
    let acting = 0;
    for (const node of nodes) {
      if (node.masterTerm !== null && nowMs < node.leaseEndMs) acting++;
    }
    for (let i = this.#ghosts.length - 1; i >= 0; i--) {
      const ghost = this.#ghosts[i];
      if (ghost === undefined || ghost.endMs <= nowMs) {
        this.#ghosts.splice(i, 1);
      } else acting++;
    }
    if (acting < 2) return;
    const detail = this.actingMasters(nodes, nowMs).map((id) => {
      const node = nodes.find((n) => n.id === id.replace("(crashed)", ""));
      return `${id} term ${node?.masterTerm ?? "?"}`;
    });
    this.#fail(
      "one master at a time",
      `two masters at once: ${detail.join(", ")}`,
    );
  }
}
