/**
 * The simulated cluster: nodes running the real election core on their own
 * drifting monotonic clocks, links with delay distributions, FIFO delivery
 * per connection, dropped connections that lose in-flight messages,
 * partitions, crashes with or without state_dir, pauses, and slow drivers.
 * Carries out the core's effects exactly as the daemon shell must, and runs
 * the safety checkers after every event. All randomness comes from one seeded
 * PRNG; memory per schedule is bounded (queue, trace ring, per-term map).
 */

import { Election } from "../../src/election/election.ts";
import { Prng } from "../../src/election/prng.ts";
import type {
  Effect,
  ElectionMutation,
  Input,
  Member,
  Message,
} from "../../src/election/types.ts";
import { Checkers } from "./checkers.ts";
import { type DelayProfile, sampleDelay } from "./delay.ts";
import { EventQueue } from "./event_queue.ts";
import { Trace } from "./trace.ts";

/** Timing and behaviour shared by every node of one schedule. */
export interface SimTiming {
  heartbeatMs: number;
  electionTimeoutMs: number;
  leaseMs: number;
  rankDelayMs: number;
  minHoldMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  prePromote: boolean;
  /** Planned handovers wait this long before the demote (0 = none). */
  handoverDrainMs: number;
}

/** A member and the priority its own config gives it (advertised to peers). */
export interface SimMember extends Member {
  priority: number;
}

/** Clock-rate drift bound ρ of the simulated machines. */
export const SIM_RHO = 0.01;
/** Events per schedule before the simulator declares a livelock. */
export const EVENTS_PER_SCHEDULE_MAX = 2_000_000;

/** A broken invariant, with the trace that led to it. */
export interface Violation {
  check: string;
  message: string;
  atMs: number;
  trace: string[];
}

type DeferredInput =
  | { kind: "peer_up"; peer: string }
  | { kind: "peer_down"; peer: string }
  | { kind: "check"; healthy: boolean }
  | {
    kind: "command";
    requestId: string;
    command: Extract<Input, { kind: "command" }>["command"];
  }
  | { kind: "demote_done"; term: number }
  | { kind: "start_demote_done" }
  | { kind: "pre_promote_result"; term: number; ok: boolean }
  | { kind: "pause"; paused: boolean };

type SimEvent =
  | {
    kind: "deliver";
    from: string;
    to: string;
    message: Message;
    epoch: number;
  }
  | { kind: "tick"; node: string; gen: number }
  | { kind: "input"; node: string; incarnation: number; input: DeferredInput }
  | { kind: "call"; label: string; fn: () => void };

/** A simulated machine running one clustd process (or none when crashed). */
export interface SimNode {
  id: string;
  member: SimMember;
  rate: number;
  offsetMs: number;
  election: Election | null;
  disk: { term: number; votedFor: string | null } | null;
  incarnation: number;
  pausedUntilMs: number;
  tickGen: number;
  tickAtMs: number | null;
  exitAfterStep: boolean;
  /** Checker view: promoted in this term and not demoted yet. */
  masterTerm: number | null;
  /** Real time its lease ends, as of its last step (a paused node keeps it). */
  leaseEndMs: number;
  /** Real time its demote hook ends (after a step-down), else −∞. */
  demoteHookEndMs: number;
}

interface Link {
  connected: boolean;
  epoch: number;
  lastDeliveryMs: Map<string, number>;
}

/** The simulated world of one schedule. */
export class World {
  readonly prng: Prng;
  readonly trace = new Trace();
  readonly queue = new EventQueue<SimEvent>();
  readonly nodes: SimNode[];
  readonly byId = new Map<string, SimNode>();
  readonly timing: SimTiming;
  readonly profiles = new Map<string, DelayProfile>();
  readonly blocked = new Set<string>();
  nowMs = 0;
  events = 0;
  /** False once the liveness phase healed everything: pending faults stay off. */
  faultsActive = true;
  /** Cluster maintenance (clustd pause): a booting node reads it from state_dir. */
  maintenance = false;
  /** Debugging aid: also trace heartbeats, acks and gossip. */
  traceHeartbeats = false;
  violation: Violation | null = null;
  /** Probability a pre_promote script vetoes; slow drivers up to these delays. */
  vetoChance = 0;
  demoteDelayMaxMs = 0;
  /** The start demote (every boot) takes up to this long. */
  startDemoteMaxMs = 0;
  /**
   * A step-down's demote hook takes up to this long; checker 5 proves it
   * ends before any other node promotes (see `stepDownBudgetMs`).
   */
  demoteHookMaxMs = 0;
  prePromoteDelayMaxMs = 0;
  readonly checkers: Checkers;
  onPromote: ((node: SimNode) => void) | null = null;
  readonly #links = new Map<string, Link>();
  readonly #mutation: ElectionMutation | null;

  constructor(
    seed: number,
    members: SimMember[],
    timing: SimTiming,
    mutation: ElectionMutation | null,
  ) {
    this.prng = new Prng(seed);
    this.timing = timing;
    this.checkers = new Checkers(
      (check, message) => this.fail(check, message),
      timing.electionTimeoutMs,
    );
    this.#mutation = mutation;
    this.nodes = members.map((member) => ({
      id: member.id,
      member,
      // Rates within [1/(1+ρ), 1+ρ]: any two clocks differ by at most (1+ρ)².
      rate: (1 + SIM_RHO) ** this.prng.between(-1, 1),
      offsetMs: this.prng.between(0, 1e6),
      election: null,
      disk: null,
      incarnation: 0,
      pausedUntilMs: 0,
      tickGen: 0,
      tickAtMs: null,
      exitAfterStep: false,
      masterTerm: null,
      leaseEndMs: Number.NEGATIVE_INFINITY,
      demoteHookEndMs: Number.NEGATIVE_INFINITY,
    }));
    for (const node of this.nodes) this.byId.set(node.id, node);
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (a.id >= b.id) continue;
        this.#links.set(linkKey(a.id, b.id), {
          connected: false,
          epoch: 0,
          lastDeliveryMs: new Map(),
        });
      }
    }
  }

  /** Local monotonic time of `node` at real time `realMs`. */
  localMs(node: SimNode, realMs = this.nowMs): number {
    return node.offsetMs + node.rate * realMs;
  }

  node(id: string): SimNode {
    const node = this.byId.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Starts (or restarts) the process on `node`; `loseState` empties state_dir. */
  boot(node: SimNode, loseState: boolean): void {
    if (loseState && node.disk !== null) {
      node.disk = null;
      this.checkers.stateLost();
    }
    node.incarnation++;
    node.election = new Election({
      selfId: node.id,
      members: this.nodes.map((n) => ({ id: n.id, role: n.member.role })),
      priority: node.member.priority,
      startDemote: true,
      ...this.timing,
      twoNode: false,
      seed: this.prng.nextUint32(),
      persisted: node.disk,
      startMs: this.localMs(node),
      ...(this.#mutation === null ? {} : { mutation: this.#mutation }),
    });
    node.masterTerm = null;
    node.tickAtMs = null;
    node.pausedUntilMs = 0;
    if (this.maintenance) {
      // The persisted pause flag is applied before anything else.
      node.election.step({
        kind: "pause",
        nowMs: this.localMs(node),
        paused: true,
      });
    }
    this.trace.add(
      this.nowMs,
      node.id,
      "boot",
      loseState ? "empty state_dir" : node.disk ?? "",
    );
    this.#step(node, { kind: "tick", nowMs: this.localMs(node) });
    this.queue.push(this.nowMs + this.prng.between(0, this.startDemoteMaxMs), {
      kind: "input",
      node: node.id,
      incarnation: node.incarnation,
      input: { kind: "start_demote_done" },
    });
    for (const peer of this.nodes) {
      if (peer !== node && peer.election !== null) {
        this.schedule(
          this.prng.between(1, 20),
          `connect ${node.id}-${peer.id}`,
          () => this.connect(node.id, peer.id),
        );
      }
    }
  }

  /** Kills the process (SIGKILL or exit); its lease still counts until it ends. */
  crash(node: SimNode, why: string): void {
    if (node.election === null) return;
    this.checkers.crashed(node);
    node.masterTerm = null;
    // A hook outlives a SIGKILL, but the holder is then the crashed
    // process's lease (a ghost), which checker 1 counts.
    node.demoteHookEndMs = Number.NEGATIVE_INFINITY;
    node.election = null;
    node.incarnation++;
    node.tickAtMs = null;
    node.pausedUntilMs = 0;
    this.trace.add(this.nowMs, node.id, "crash", why);
    for (const peer of this.nodes) {
      if (peer !== node) this.disconnect(node.id, peer.id, false);
    }
  }

  /** Establishes the connection a–b (both processes must run). */
  connect(a: string, b: string): void {
    const link = this.#link(a, b);
    const na = this.node(a);
    const nb = this.node(b);
    if (link.connected || na.election === null || nb.election === null) return;
    link.connected = true;
    link.epoch++;
    this.#defer(na, { kind: "peer_up", peer: b });
    this.#defer(nb, { kind: "peer_up", peer: a });
  }

  /** Drops the connection a–b; in-flight messages are lost. */
  disconnect(a: string, b: string, reconnect: boolean): void {
    const link = this.#link(a, b);
    if (link.connected) {
      link.connected = false;
      link.epoch++;
      this.#defer(this.node(a), { kind: "peer_down", peer: b });
      this.#defer(this.node(b), { kind: "peer_down", peer: a });
    }
    if (reconnect) {
      this.schedule(
        this.prng.between(5, 100),
        `reconnect ${a}-${b}`,
        () => this.connect(a, b),
      );
    }
  }

  /** Feeds a shell input (check, command, ...) to a node now. */
  input(node: SimNode, input: DeferredInput): void {
    this.#defer(node, input);
  }

  /** Runs `fn` after `delayMs` of real time, traced as `label`. */
  schedule(delayMs: number, label: string, fn: () => void): void {
    this.queue.push(this.nowMs + delayMs, { kind: "call", label, fn });
  }

  /** Nodes acting as master now (promoted, lease not over), crashed ones too. */
  actingMasters(): string[] {
    return this.checkers.actingMasters(this.nodes, this.nowMs);
  }

  /** Processes events until `untilMs` or the first violation. */
  runUntil(untilMs: number): void {
    while (this.violation === null && this.queue.peekMs() <= untilMs) {
      const next = this.queue.pop();
      if (next === undefined) break;
      this.nowMs = next.atMs;
      if (++this.events > EVENTS_PER_SCHEDULE_MAX) {
        this.fail("livelock", `more than ${EVENTS_PER_SCHEDULE_MAX} events`);
        return;
      }
      this.#handle(next.event);
      this.checkers.afterEvent(this.nodes, this.nowMs);
    }
    if (this.violation === null) this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Records the (first) violation of this schedule. */
  fail(check: string, message: string): void {
    if (this.violation !== null) return;
    this.violation = {
      check,
      message,
      atMs: this.nowMs,
      trace: this.trace.lines(),
    };
  }

  #link(a: string, b: string): Link {
    const link = this.#links.get(linkKey(a, b));
    if (link === undefined) throw new Error(`no link ${a}-${b}`);
    return link;
  }

  #defer(node: SimNode, input: DeferredInput): void {
    this.queue.push(this.nowMs, {
      kind: "input",
      node: node.id,
      incarnation: node.incarnation,
      input,
    });
  }

  #handle(event: SimEvent): void {
    if (event.kind === "call") {
      this.trace.add(this.nowMs, "sim", event.label);
      event.fn();
      return;
    }
    const node = this.node(event.kind === "deliver" ? event.to : event.node);
    if (node.election === null) return;
    if (node.pausedUntilMs > this.nowMs) {
      // A paused process handles nothing; the OS queues it until resume.
      this.queue.push(node.pausedUntilMs, event);
      return;
    }
    const nowMs = this.localMs(node);
    switch (event.kind) {
      case "deliver": {
        const link = this.#link(event.from, event.to);
        if (
          link.epoch !== event.epoch ||
          this.blocked.has(`${event.from}>${event.to}`)
        ) return;
        if (
          this.traceHeartbeats ||
          (!event.message.type.startsWith("heartbeat") &&
            event.message.type !== "state")
        ) {
          this.trace.add(
            this.nowMs,
            node.id,
            `<- ${event.from}`,
            event.message,
          );
        }
        return this.#step(node, {
          kind: "message",
          nowMs,
          from: event.from,
          message: event.message,
        });
      }
      case "tick":
        if (event.gen !== node.tickGen) return;
        node.tickAtMs = null;
        return this.#step(node, { kind: "tick", nowMs });
      case "input":
        if (event.incarnation !== node.incarnation) return;
        return this.#step(node, { ...event.input, nowMs } as Input);
    }
  }

  #step(node: SimNode, input: Input): void {
    const election = node.election;
    if (election === null) return;
    for (const effect of election.step(input)) this.#apply(node, effect);
    if (node.masterTerm !== null) {
      const status = election.status(input.nowMs);
      if (status.role === "master") {
        node.leaseEndMs = status.leaseValid
          ? this.nowMs + status.leaseRemainingMs / node.rate
          : Number.POSITIVE_INFINITY;
      }
    }
    if (node.exitAfterStep) {
      node.exitAfterStep = false;
      this.crash(node, "exit after shutdown");
      return;
    }
    this.#scheduleTick(node, election, input.nowMs);
  }

  #scheduleTick(node: SimNode, election: Election, localNowMs: number): void {
    let wakeLocal = Math.min(
      election.nextWakeMs(),
      localNowMs + this.timing.heartbeatMs,
    );
    if (wakeLocal <= localNowMs) wakeLocal = localNowMs + 0.01;
    // Event-loop lateness of a healthy process: up to half a millisecond.
    const atMs = (wakeLocal - node.offsetMs) / node.rate +
      this.prng.between(0, 0.5);
    if (node.tickAtMs !== null && node.tickAtMs <= atMs) return;
    node.tickGen++;
    node.tickAtMs = atMs;
    this.queue.push(atMs, { kind: "tick", node: node.id, gen: node.tickGen });
  }

  #apply(node: SimNode, effect: Effect): void {
    switch (effect.kind) {
      case "persist":
        node.disk = { term: effect.term, votedFor: effect.votedFor };
        return;
      case "send":
        return this.#send(node.id, effect.to, effect.message);
      case "promote":
        return this.#promote(node, effect.term);
      case "demote":
        this.trace.add(this.nowMs, node.id, "DEMOTE", effect);
        node.masterTerm = null;
        this.checkers.decision(node, this.nowMs, effect);
        this.#startDemoteHook(node, effect);
        if (effect.handover) {
          const delay = this.prng.between(0, this.demoteDelayMaxMs);
          this.queue.push(this.nowMs + delay, {
            kind: "input",
            node: node.id,
            incarnation: node.incarnation,
            input: { kind: "demote_done", term: effect.term },
          });
        }
        return;
      case "pre_promote": {
        const delay = this.prng.between(0, this.prePromoteDelayMaxMs);
        const ok = !this.prng.chance(this.vetoChance);
        this.queue.push(this.nowMs + delay, {
          kind: "input",
          node: node.id,
          incarnation: node.incarnation,
          input: { kind: "pre_promote_result", term: effect.term, ok },
        });
        return;
      }
      case "reply":
        this.trace.add(this.nowMs, node.id, "reply", effect);
        if (effect.requestId.startsWith("shutdown")) node.exitAfterStep = true;
        return;
      case "log":
        if (effect.level !== "debug") {
          this.trace.add(this.nowMs, node.id, effect.event, effect.fields);
        }
        this.checkers.decision(node, this.nowMs, effect);
        return;
    }
  }

  /**
   * A step-down (quorum_lost, or lease_expired) runs the demote hook for up to
   * `demoteHookMaxMs`. Not after a pause of this node within E: a process
   * frozen past its step-down point demotes late by design (invariant 3
   * makes it demote on resume, but the other side may have promoted).
   */
  #startDemoteHook(node: SimNode, effect: Effect): void {
    if (effect.kind !== "demote") return;
    if (effect.reason !== "quorum_lost" && effect.reason !== "lease_expired") {
      return;
    }
    const pauseEndMs = node.pausedUntilMs;
    if (
      pauseEndMs > 0 && this.nowMs - pauseEndMs < this.timing.electionTimeoutMs
    ) {
      return;
    }
    node.demoteHookEndMs = this.nowMs +
      this.prng.between(0, this.demoteHookMaxMs);
  }

  #promote(node: SimNode, term: number): void {
    this.trace.add(this.nowMs, node.id, "PROMOTE", { term });
    for (const other of this.nodes) {
      if (other !== node && other.demoteHookEndMs > this.nowMs) {
        this.fail(
          "demote before promote",
          `${node.id} promoted in term ${term} while ${other.id}'s demote hook runs until ${
            other.demoteHookEndMs.toFixed(1)
          }`,
        );
      }
    }
    node.masterTerm = term;
    node.leaseEndMs = Number.POSITIVE_INFINITY; // set from status right after the step
    this.checkers.promoted(node, term);
    this.onPromote?.(node);
  }

  #send(from: string, to: string, message: Message): void {
    const link = this.#link(from, to);
    const direction = `${from}>${to}`;
    if (!link.connected || this.blocked.has(direction)) return;
    const profile = this.profiles.get(direction);
    let delayMs = profile === undefined ? 1 : sampleDelay(this.prng, profile);
    const lastMs = link.lastDeliveryMs.get(direction) ?? 0;
    // One TCP connection per pair: messages arrive in the order sent.
    const atMs = Math.max(this.nowMs + delayMs, lastMs);
    delayMs = atMs - this.nowMs;
    link.lastDeliveryMs.set(direction, atMs);
    this.queue.push(atMs, {
      kind: "deliver",
      from,
      to,
      message,
      epoch: link.epoch,
    });
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
