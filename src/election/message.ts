/**
 * Election messages between nodes and their validation. Every message is a
 * plain JSON object with a `type` discriminator and the sender's `term`.
 * `parseMessage` is the one gate for untrusted input: it never throws and
 * names what is wrong. Never decides anything about an election.
 */

/**
 * Leader → all: lease round `round`; `master` says it has promoted. Like the
 * ack and the gossip it advertises the sender's own `eligible` and
 * `priority`: ranking uses only what each node says about itself.
 */
export interface HeartbeatMessage {
  type: "heartbeat";
  term: number;
  round: number;
  master: boolean;
  eligible: boolean;
  priority: number;
}

/** Reply to a heartbeat; `ok: false` means the sender is at a higher term. */
export interface HeartbeatAckMessage {
  type: "heartbeat_ack";
  term: number;
  round: number;
  ok: boolean;
  eligible: boolean;
  priority: number;
}

/** Gossip every h: liveness, term, eligibility and priority for ranking. */
export interface StateMessage {
  type: "state";
  term: number;
  eligible: boolean;
  priority: number;
  leaderId: string | null;
}

/** Pre-vote (no state changes anywhere): would you vote for me at `proposedTerm`? */
export interface PreVoteRequestMessage {
  type: "pre_vote_request";
  term: number;
  proposedTerm: number;
}

/**
 * Answer to a pre-vote; `term` is the voter's own term, `campaigning` says
 * the voter is itself campaigning (so a lower-ranked asker can step aside).
 */
export interface PreVoteResponseMessage {
  type: "pre_vote_response";
  term: number;
  proposedTerm: number;
  granted: boolean;
  reason: string;
  campaigning: boolean;
}

/** Names the master and term a handover comes from (Raft's TimeoutNow). */
export interface HandoverClaim {
  leaderId: string;
  term: number;
}

/** Real vote request at `term`; `handover` is set after a TimeoutNow. */
export interface VoteRequestMessage {
  type: "vote_request";
  term: number;
  handover: HandoverClaim | null;
}

/** Answer to a vote request. */
export interface VoteResponseMessage {
  type: "vote_response";
  term: number;
  granted: boolean;
  reason: string;
}

/** Master → handover target: campaign now (the master has demoted). */
export interface TimeoutNowMessage {
  type: "timeout_now";
  term: number;
}

/** Everything nodes say to each other about elections. */
export type Message =
  | HeartbeatMessage
  | HeartbeatAckMessage
  | StateMessage
  | PreVoteRequestMessage
  | PreVoteResponseMessage
  | VoteRequestMessage
  | VoteResponseMessage
  | TimeoutNowMessage;

/** Longest member id or reason accepted from the wire. */
export const MESSAGE_STRING_MAX = 200;

/**
 * Highest term a node adopts, persists or campaigns for: 2^40, far below
 * 2^53 so `term + 1` is always exact, and out of reach of real use (one
 * election a second for 34,000 years). A node at this term stops campaigning.
 */
export const TERM_MAX = 2 ** 40;

/**
 * Largest step a message's term may take above the higher of our own term
 * and the term two peers vouch for. Real terms move one per election (pre-
 * vote keeps a partitioned node from inflating its own), so a node catching
 * up after a long partition is a few terms behind, never a million.
 */
export const TERM_JUMP_MAX = 2 ** 20;

/** Every term a message names (its own, a proposed one, a handover claim's). */
export function messageTerms(message: Message): number[] {
  switch (message.type) {
    case "pre_vote_request":
    case "pre_vote_response":
      return [message.term, message.proposedTerm];
    case "vote_request":
      return message.handover === null
        ? [message.term]
        : [message.term, message.handover.term];
    default:
      return [message.term];
  }
}

/** Highest priority a node may advertise (as in the config). */
export const PRIORITY_MAX = 255;

type Fields = Record<string, unknown>;
type Check = (fields: Fields) => string | null;

function integer(name: string): Check {
  return (fields) => {
    const value = fields[name];
    return typeof value === "number" && Number.isSafeInteger(value) &&
        value >= 0
      ? null
      : `field "${name}" must be a non-negative integer`;
  };
}

function priority(fields: Fields): string | null {
  const value = fields.priority;
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
      value <= PRIORITY_MAX
    ? null
    : `field "priority" must be an integer from 0 to ${PRIORITY_MAX}`;
}

function boolean(name: string): Check {
  return (fields) =>
    typeof fields[name] === "boolean"
      ? null
      : `field "${name}" must be a boolean`;
}

function text(name: string, nullable: boolean): Check {
  return (fields) => {
    const value = fields[name];
    if (value === null && nullable) return null;
    return typeof value === "string" && value.length >= 1 &&
        value.length <= MESSAGE_STRING_MAX
      ? null
      : `field "${name}" must be a string of 1..${MESSAGE_STRING_MAX} characters${
        nullable ? " or null" : ""
      }`;
  };
}

function handoverClaim(fields: Fields): string | null {
  const value = fields.handover;
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    return `field "handover" must be an object or null`;
  }
  const claim = value as Fields;
  return text("leaderId", false)(claim) ?? integer("term")(claim);
}

const SCHEMAS: Record<Message["type"], Check[]> = {
  heartbeat: [
    integer("term"),
    integer("round"),
    boolean("master"),
    boolean("eligible"),
    priority,
  ],
  heartbeat_ack: [
    integer("term"),
    integer("round"),
    boolean("ok"),
    boolean("eligible"),
    priority,
  ],
  state: [
    integer("term"),
    boolean("eligible"),
    priority,
    text("leaderId", true),
  ],
  pre_vote_request: [integer("term"), integer("proposedTerm")],
  pre_vote_response: [
    integer("term"),
    integer("proposedTerm"),
    boolean("granted"),
    text("reason", false),
    boolean("campaigning"),
  ],
  vote_request: [integer("term"), handoverClaim],
  vote_response: [integer("term"), boolean("granted"), text("reason", false)],
  timeout_now: [integer("term")],
};

/**
 * Validates untrusted JSON from a peer. Returns the message, or a sentence
 * saying why it is invalid. Never throws.
 */
export function parseMessage(value: unknown): Message | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "election message must be a JSON object";
  }
  const fields = value as Fields;
  const type = fields.type;
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) {
    return `unknown election message type ${JSON.stringify(type)}`;
  }
  for (const check of SCHEMAS[type as Message["type"]]) {
    const problem = check(fields);
    if (problem !== null) return `${type}: ${problem}`;
  }
  return fields as unknown as Message;
}
