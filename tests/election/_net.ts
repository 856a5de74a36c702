/**
 * Test harness for the election core: option builders and a tiny in-memory
 * network that delivers messages instantly (or drops them on cut links) and
 * records every effect with its node and time. Tests only; no timers.
 */

import { Election } from "../../src/election/election.ts";
import type {
  Effect,
  ElectionOptions,
  Input,
  Member,
  Message,
} from "../../src/election/types.ts";

/** Fast timings used by every unit test: h=100, E=200, L=180, Δ=10. */
export const H = 100;
export const E = 200;
export const L = 180;
export const DELTA = 10;

/** A member with the priority its own config gives it (tests set all at once). */
export interface TestMember extends Member {
  priority: number;
}

/**
 * Options for `selfId` with test defaults and `overrides`; the node's own
 * priority comes from its entry in `members` (peers learn it from messages).
 */
export function options(
  selfId: string,
  members: TestMember[],
  overrides: Partial<ElectionOptions> = {},
): ElectionOptions {
  const self = members.find((member) => member.id === selfId);
  return {
    selfId,
    members: members.map(({ id, role }) => ({ id, role })),
    priority: self?.priority ?? 0,
    heartbeatMs: H,
    electionTimeoutMs: E,
    leaseMs: L,
    rankDelayMs: DELTA,
    minHoldMs: 0,
    preempt: false,
    preemptDelayMs: 0,
    twoNode: false,
    prePromote: false,
    seed: 7,
    persisted: null,
    startMs: 0,
    ...overrides,
  };
}

/** Voters a, b, c, ... with the given priorities. */
export function voters(...priorities: number[]): TestMember[] {
  return priorities.map((priority, i) => ({
    id: String.fromCharCode(97 + i),
    role: "voter" as const,
    priority,
  }));
}

/** The priority `id` gives itself in `members` (what it advertises). */
export function priorityOf(members: TestMember[], id: string): number {
  const member = members.find((m) => m.id === id);
  if (member === undefined) throw new Error(`no member ${id}`);
  return member.priority;
}

/** One recorded effect. */
export interface Recorded {
  node: string;
  atMs: number;
  effect: Effect;
}

/** Effects of one kind from a list. */
export function ofKind<K extends Effect["kind"]>(
  effects: Effect[],
  kind: K,
): Extract<Effect, { kind: K }>[] {
  return effects.filter((e): e is Extract<Effect, { kind: K }> =>
    e.kind === kind
  );
}

/** Instant in-memory network of Election nodes. */
export class Net {
  readonly nodes = new Map<string, Election>();
  readonly log: Recorded[] = [];
  readonly cut = new Set<string>();
  readonly paused = new Set<string>();
  nowMs = 0;
  /** When false, handover demotes wait for an explicit demote_done. */
  autoDemoteDone = true;
  /** pre_promote answer per node; null leaves it unanswered. */
  prePromoteOk: (id: string) => boolean | null = () => true;
  #queue: { from: string; to: string; message: Message }[] = [];
  #inputs: { id: string; input: Input }[] = [];

  constructor(
    members: TestMember[],
    overrides: (id: string) => Partial<ElectionOptions> = () => ({}),
  ) {
    for (const member of members) {
      this.nodes.set(
        member.id,
        new Election(options(member.id, members, overrides(member.id))),
      );
    }
  }

  /** Cuts (both ways) the link between a and b. */
  cutLink(a: string, b: string): void {
    this.cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  /** Isolates `id` from everyone. */
  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other !== id) this.cutLink(id, other);
    }
  }

  /** Restores all links. */
  heal(): void {
    this.cut.clear();
  }

  node(id: string): Election {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Steps one node and processes its effects (sends are queued). */
  step(id: string, input: Input): Effect[] {
    const effects = this.node(id).step(input);
    for (const effect of effects) this.#apply(id, effect);
    return effects;
  }

  #apply(id: string, effect: Effect): void {
    this.log.push({ node: id, atMs: this.nowMs, effect });
    if (effect.kind === "send") {
      if (!this.cut.has(`${id}>${effect.to}`)) {
        this.#queue.push({ from: id, to: effect.to, message: effect.message });
      }
    } else if (
      effect.kind === "demote" && effect.handover && this.autoDemoteDone
    ) {
      this.#inputs.push({
        id,
        input: { kind: "demote_done", nowMs: this.nowMs, term: effect.term },
      });
    } else if (effect.kind === "pre_promote") {
      const ok = this.prePromoteOk(id);
      if (ok === null) return;
      this.#inputs.push({
        id,
        input: {
          kind: "pre_promote_result",
          nowMs: this.nowMs,
          term: effect.term,
          ok,
        },
      });
    }
  }

  /** Delivers queued messages (and their consequences) at the current time. */
  deliver(): void {
    for (let guard = 0; guard < 100_000; guard++) {
      const pending = this.#inputs.shift();
      if (pending !== undefined) {
        this.step(pending.id, { ...pending.input, nowMs: this.nowMs });
        continue;
      }
      const item = this.#queue.shift();
      if (item === undefined) return;
      if (this.paused.has(item.to)) continue;
      if (this.cut.has(`${item.from}>${item.to}`)) continue;
      this.step(item.to, {
        kind: "message",
        nowMs: this.nowMs,
        from: item.from,
        message: item.message,
      });
    }
  }

  /** Advances time in `stepMs` increments to `untilMs`, ticking every unpaused node. */
  runUntil(untilMs: number, stepMs = 5): void {
    while (this.nowMs < untilMs) {
      this.nowMs = Math.min(untilMs, this.nowMs + stepMs);
      for (const id of this.nodes.keys()) {
        if (!this.paused.has(id)) {
          this.step(id, { kind: "tick", nowMs: this.nowMs });
        }
      }
      this.deliver();
    }
  }

  /** Ids whose public role is master right now. */
  masters(): string[] {
    return [...this.nodes.entries()]
      .filter(([, node]) => node.status(this.nowMs).role === "master")
      .map(([id]) => id);
  }

  /** Effects recorded for `id` (optionally of one kind) since index `from`. */
  effects(id: string, from = 0): Effect[] {
    return this.log.slice(from).filter((r) => r.node === id).map((r) =>
      r.effect
    );
  }
}
