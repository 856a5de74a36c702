/**
 * The external-driver SDK's data: the event type handed to user code, the
 * driver token as text or file, and validation of every message the daemon
 * sends on a `driver` channel. Pure except `readTokenFile`; never quotes a
 * token in an error message.
 */

/** Fewest bytes a driver token may decode to (as the cluster secret). */
export const TOKEN_BYTES_MIN = 32;
/** Longest `reason` accepted in an event. */
const REASON_CHARS_MAX = 64;
/** Largest token file read (a base64 token is a few dozen bytes). */
const TOKEN_FILE_BYTES_MAX = 4096;

/** One role change of the local node, as handed to `onEvent`. */
export interface DriverEvent {
  /** What to do: take the role (`promote`) or give it up (`demote`). */
  event: "promote" | "demote";
  /** The node's role after the change. */
  role: "master" | "backup";
  /** Fencing token: the term of the promotion (or demotion). */
  term: number;
  /**
   * Why: `start`, `elected`, `handover`, `quorum_lost`, `lease_expired`,
   * `higher_term`, `leader_conflict`, `switchover`, `drain`, `check_failed`,
   * `preempted` or `shutdown` (README: "Why an event happened").
   */
  reason: string;
  /** The node this driver runs beside. */
  nodeId: string;
  /** The master as far as the node knows, or null. */
  masterId: string | null;
  /** `event`: a live change; `welcome`: the state restated on (re)connect. */
  source: "event" | "welcome";
}

/** Connection news for logs. */
export type DriverStatus =
  | { kind: "connected"; nodeId: string }
  | { kind: "disconnected"; reason: string; retryInMs: number }
  | { kind: "refused"; message: string; retryInMs: number }
  | { kind: "handler_failed"; event: DriverEvent; error: string };

/** A validated message from the daemon. */
export type ServerMessage =
  | { type: "welcome"; nodeId: string; state: DriverEvent | null }
  | { type: "refused"; message: string }
  | { type: "event"; event: DriverEvent };

/** Identity of a role state for collapsing: event and term. */
export function roleKey(event: DriverEvent): string {
  return `${event.event}/${event.term}`;
}

/**
 * Decodes base64 token text (surrounding whitespace ignored) of at least
 * `TOKEN_BYTES_MIN` bytes; throws a TypeError naming `what`, never the token.
 */
export function decodeToken(
  text: string,
  what = "The driver token",
): Uint8Array {
  const trimmed = text.trim();
  const fix = 'make one with "clustd keygen"';
  if (trimmed === "") throw new TypeError(`${what} is empty: ${fix}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new TypeError(`${what} is not valid base64: ${fix}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(trimmed);
  } catch (_error: unknown) {
    // Only malformed input fails, which the pattern mostly excludes.
    throw new TypeError(`${what} is not valid base64: ${fix}`);
  }
  checkTokenBytes(bytes, what);
  return bytes;
}

/** Throws a TypeError when a token is shorter than `TOKEN_BYTES_MIN`. */
export function checkTokenBytes(
  bytes: Uint8Array,
  what = "The driver token",
): void {
  if (bytes.length < TOKEN_BYTES_MIN) {
    throw new TypeError(
      `${what} has ${bytes.length} bytes, fewer than the ${TOKEN_BYTES_MIN} required: make one with "clustd keygen"`,
    );
  }
}

/** Reads and decodes a token file (`cluster.driver_token_file`); throws naming the path. */
export async function readTokenFile(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    const file = await Deno.open(path, { read: true });
    try {
      const buffer = new Uint8Array(TOKEN_FILE_BYTES_MAX + 1);
      let length = 0;
      while (length < buffer.length) {
        const read = await file.read(buffer.subarray(length));
        if (read === null) break;
        length += read;
      }
      if (length > TOKEN_FILE_BYTES_MAX) {
        throw new TypeError(
          `it is larger than ${TOKEN_FILE_BYTES_MAX} bytes, too large for a token`,
        );
      }
      text = new TextDecoder().decode(buffer.subarray(0, length));
    } finally {
      file.close();
    }
  } catch (error: unknown) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot read the driver token file ${JSON.stringify(path)}: ${why}`,
    );
  }
  return decodeToken(
    text,
    `The driver token file ${JSON.stringify(path)}`,
  );
}

function parseEvent(
  value: unknown,
  source: DriverEvent["source"],
): DriverEvent | string {
  if (typeof value !== "object" || value === null) {
    return "event must be an object";
  }
  const record = value as Record<string, unknown>;
  const { event, role, term, reason } = record;
  const nodeId = record["node_id"];
  const masterId = record["master_id"];
  if (event !== "promote" && event !== "demote") {
    return `unknown event ${JSON.stringify(event)}`;
  }
  if (role !== "master" && role !== "backup") {
    return `unknown role ${JSON.stringify(role)}`;
  }
  if (typeof term !== "number" || !Number.isSafeInteger(term) || term < 0) {
    return "term must be a non-negative integer";
  }
  if (
    typeof reason !== "string" || reason === "" ||
    reason.length > REASON_CHARS_MAX
  ) {
    return `reason must be a string of 1..${REASON_CHARS_MAX} characters`;
  }
  if (typeof nodeId !== "string") return "node_id must be a string";
  if (masterId !== null && typeof masterId !== "string") {
    return "master_id must be a string or null";
  }
  return { event, role, term, reason, nodeId, masterId, source };
}

/** Validates one message from the daemon; returns what is wrong otherwise. */
export function parseServerMessage(value: unknown): ServerMessage | string {
  if (typeof value !== "object" || value === null) {
    return "message must be an object";
  }
  const record = value as Record<string, unknown>;
  switch (record["type"]) {
    case "welcome": {
      const nodeId = record["node_id"];
      if (typeof nodeId !== "string") return "welcome.node_id must be a string";
      const raw = record["state"];
      if (raw === null || raw === undefined) {
        return { type: "welcome", nodeId, state: null };
      }
      const state = parseEvent(raw, "welcome");
      if (typeof state === "string") return `welcome.state: ${state}`;
      return { type: "welcome", nodeId, state };
    }
    case "refused": {
      const message = record["message"];
      return {
        type: "refused",
        message: typeof message === "string"
          ? message.slice(0, 500)
          : "no reason given",
      };
    }
    case "event": {
      const event = parseEvent(record, "event");
      return typeof event === "string" ? event : { type: "event", event };
    }
    default:
      return `unknown message type ${JSON.stringify(record["type"])}`;
  }
}
