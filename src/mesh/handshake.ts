/**
 * The mesh handshake as a pure state machine: messages in, messages and a
 * result out. WebCrypto calls are its only await; it owns no socket, timer or
 * log. Both sides prove knowledge of the pre-shared key (never sent) through
 * key confirmation over the whole transcript.
 *
 * Flow (client dials, server accepts):
 *   C → S  hello   {version, kind, id, ephemeral, random, digest}
 *   S → C  welcome {version, id, ephemeral, random, digest, confirm}
 *   C → S  finish  {confirm, description?}
 *   either  refuse  {reason, message, version?, description?}
 * transcript = JSON [label, version, kind, clientId, serverId, ephC, ephS,
 *                    randomC, randomS, digestC, digestS]; th = SHA-256(transcript)
 * okm = HKDF-SHA-256(ikm = psk ‖ X25519(ephC, ephS), salt = th, info) → 96 bytes:
 *   client→server chain key ‖ server→client chain key ‖ confirmation key
 * confirm = HMAC-SHA-256(confirmation key, "server finished"|"client finished" ‖ th)
 * Both digests are in the transcript, so a fingerprint mismatch is detected
 * only after both sides authenticated; descriptions are disclosed only then.
 */

import {
  generateEphemeral,
  KEY_BYTES,
  randomBytes,
  timingSafeEqual,
  toBase64,
  x25519,
} from "./_crypto.ts";
import {
  AUTH_FAILED_MESSAGE,
  bytesField,
  CHANNEL_KINDS,
  type ChannelKind,
  fail,
  type HandshakeStep,
  idField,
  keySchedule,
  parse,
  PROTOCOL_VERSION,
  refusal,
  remoteRefusal,
  type Schedule,
  versionMessage,
} from "./_handshake_wire.ts";
import { describeDifference, descriptionDigest } from "./fingerprint.ts";

export {
  AUTH_FAILED_MESSAGE,
  CHANNEL_KINDS,
  type ChannelKind,
  type HandshakeFailure,
  type HandshakeStep,
  PROTOCOL_VERSION,
  type SessionKeys,
} from "./_handshake_wire.ts";

/** Options of the dialing side. */
export interface ClientHandshakeOptions {
  kind: ChannelKind;
  /** Cluster secret (peer, control) or driver token (driver). */
  psk: Uint8Array;
  selfId: string;
  /** When set, a server presenting another id is refused. */
  expectedPeerId?: string;
  /** Non-secret cluster description; its digest is bound into the keys. */
  description: unknown;
  /** Overrides the protocol version (tests of version refusal only). */
  version?: number;
}

/**
 * The auth failure sentence, naming the key that did not match: the driver
 * token on the driver path, the cluster secret otherwise.
 */
function authFailedMessage(kind: ChannelKind | undefined): string {
  return kind === "driver"
    ? "authentication failed: the driver token does not match the node's cluster.driver_token_file"
    : AUTH_FAILED_MESSAGE;
}

/** The dialing side: `start()` yields hello, then `receive()` each reply. */
export class ClientHandshake {
  #options: ClientHandshakeOptions;
  #version: number;
  #state: "new" | "hello_sent" | "await_fingerprint" | "done" = "new";
  #ephemeral: Awaited<ReturnType<typeof generateEphemeral>> | undefined;
  #random = randomBytes(KEY_BYTES);
  #digest: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #serverId = "";

  constructor(options: ClientHandshakeOptions) {
    this.#options = options;
    this.#version = options.version ?? PROTOCOL_VERSION;
  }

  /** The id we expect the server to be (for logs before it is proven). */
  get claimedPeerId(): string | undefined {
    return this.#serverId !== ""
      ? this.#serverId
      : this.#options.expectedPeerId;
  }

  /** Produces the hello message. */
  async start(): Promise<HandshakeStep> {
    this.#ephemeral = await generateEphemeral();
    this.#digest = await descriptionDigest(this.#options.description);
    this.#state = "hello_sent";
    return {
      send: {
        type: "hello",
        version: this.#version,
        kind: this.#options.kind,
        id: this.#options.selfId,
        ephemeral: toBase64(this.#ephemeral.publicRaw),
        random: toBase64(this.#random),
        digest: toBase64(this.#digest),
      },
    };
  }

  /** Consumes one server message. */
  async receive(raw: string): Promise<HandshakeStep> {
    const message = parse(raw);
    if (message === undefined) {
      return fail("malformed", "malformed handshake message from server");
    }
    if (message.type === "refuse") {
      if (this.#state === "await_fingerprint") {
        return this.#fingerprint(message);
      }
      this.#state = "done";
      return remoteRefusal(message, this.#version);
    }
    if (this.#state !== "hello_sent" || message.type !== "welcome") {
      this.#state = "done";
      return fail("malformed", `unexpected handshake message from server`);
    }
    this.#state = "done";
    return await this.#welcome(message);
  }

  async #welcome(message: Record<string, unknown>): Promise<HandshakeStep> {
    if (message.version !== this.#version) {
      const text = versionMessage(message.version, this.#version);
      return fail(
        "version",
        text,
        refusal("version", text, { version: this.#version }),
      );
    }
    const serverId = idField(message);
    const ephemeral = bytesField(message, "ephemeral");
    const random = bytesField(message, "random");
    const digest = bytesField(message, "digest");
    const confirm = bytesField(message, "confirm");
    if (
      serverId === undefined || ephemeral === undefined ||
      random === undefined || digest === undefined || confirm === undefined ||
      this.#ephemeral === undefined
    ) {
      return fail("malformed", "malformed welcome message from server");
    }
    const expected = this.#options.expectedPeerId;
    if (expected !== undefined && serverId !== expected) {
      const text = `the node at this address says it is "${serverId}", ` +
        `but this node expects "${expected}" there; check the peer URLs`;
      return fail("identity", text, refusal("identity", text));
    }
    const shared = await x25519(this.#ephemeral.privateKey, ephemeral);
    if (shared === undefined) {
      return fail("malformed", "server sent an invalid X25519 key");
    }
    const schedule = await keySchedule(this.#options.psk, shared, {
      version: this.#version,
      kind: this.#options.kind,
      clientId: this.#options.selfId,
      serverId,
      ephemeralClient: this.#ephemeral.publicRaw,
      ephemeralServer: ephemeral,
      randomClient: this.#random,
      randomServer: random,
      digestClient: this.#digest,
      digestServer: digest,
    });
    if (!timingSafeEqual(confirm, schedule.serverConfirm)) {
      const text = authFailedMessage(this.#options.kind);
      return fail("auth", text, refusal("auth", text));
    }
    this.#serverId = serverId;
    const finish = {
      type: "finish",
      confirm: toBase64(schedule.clientConfirm),
    };
    // Only node↔node channels must agree on the cluster description; the CLI
    // and driver programs authenticate but need not carry the whole config.
    if (
      this.#options.kind === "peer" && !timingSafeEqual(digest, this.#digest)
    ) {
      // Both sides are authenticated now; disclose the description so the
      // server can name the difference, then wait for its refusal.
      this.#state = "await_fingerprint";
      return { send: { ...finish, description: this.#options.description } };
    }
    return {
      send: finish,
      result: {
        ok: true,
        peerId: serverId,
        keys: {
          sendChainKey: schedule.clientChain,
          receiveChainKey: schedule.serverChain,
          sessionId: schedule.sessionId,
        },
      },
    };
  }

  #fingerprint(message: Record<string, unknown>): HandshakeStep {
    this.#state = "done";
    if (!("description" in message)) {
      return remoteRefusal(message, this.#version);
    }
    const diff = describeDifference(
      this.#options.description,
      message.description,
    );
    return fail(
      "fingerprint",
      `cluster description differs from peer "${this.#serverId}": ${diff}; ` +
        `every node needs the same members, roles and timing parameters`,
    );
  }
}

/** Options of the accepting side. */
export interface ServerHandshakeOptions {
  selfId: string;
  description: unknown;
  /** The PSK for a channel kind and client id, or undefined when that kind is not served. */
  pskFor: (kind: ChannelKind, clientId: string) => Uint8Array | undefined;
  /**
   * Returns a refusal message when `id` may not open a `kind` channel;
   * asked only after the client proved the key.
   */
  checkClient: (kind: ChannelKind, id: string) => string | undefined;
  /** The kind whose path this connection arrived on, for refusal messages. */
  pathKind?: ChannelKind;
  version?: number;
}

/** The accepting side: `receive()` each client message. */
export class ServerHandshake {
  #options: ServerHandshakeOptions;
  #version: number;
  #state: "new" | "await_finish" | "done" = "new";
  #schedule: Schedule | undefined;
  #clientId = "";
  #claimedId: string | undefined;
  #kind: ChannelKind = "peer";
  #fingerprintMatches = false;

  constructor(options: ServerHandshakeOptions) {
    this.#options = options;
    this.#version = options.version ?? PROTOCOL_VERSION;
  }

  /** The id the client's hello claimed (well-formed, not yet proven), for logs. */
  get claimedPeerId(): string | undefined {
    return this.#claimedId;
  }

  /** Consumes one client message. */
  async receive(raw: string): Promise<HandshakeStep> {
    const message = parse(raw);
    const state = this.#state;
    this.#state = "done";
    if (message === undefined) {
      const text = "malformed handshake message: expected a JSON hello";
      return fail("malformed", text, refusal("malformed", text));
    }
    if (message.type === "refuse" && state !== "done") {
      return remoteRefusal(message, this.#version);
    }
    if (state === "new" && message.type === "hello") {
      return await this.#hello(message);
    }
    if (state === "await_finish" && message.type === "finish") {
      return this.#finish(message);
    }
    const text = `unexpected handshake message ${show(message.type)}`;
    return fail("malformed", text, refusal("malformed", text));
  }

  async #hello(message: Record<string, unknown>): Promise<HandshakeStep> {
    if (typeof message.version !== "number") {
      const text = "malformed hello message: no protocol version";
      return fail("malformed", text, refusal("malformed", text));
    }
    if (message.version !== this.#version) {
      const text = versionMessage(message.version, this.#version);
      return fail(
        "version",
        text,
        refusal("version", text, { version: this.#version }),
      );
    }
    const kind = CHANNEL_KINDS.find((k) => k === message.kind);
    const clientId = idField(message);
    this.#claimedId = clientId;
    const ephemeral = bytesField(message, "ephemeral");
    const random = bytesField(message, "random");
    const digest = bytesField(message, "digest");
    if (
      kind === undefined || clientId === undefined || ephemeral === undefined ||
      random === undefined || digest === undefined
    ) {
      const text = "malformed hello message";
      return fail("malformed", text, refusal("malformed", text));
    }
    const psk = this.#options.pskFor(kind, clientId);
    if (psk === undefined) {
      const path = this.#options.pathKind;
      const text = path !== undefined && path !== kind
        ? `a ${kind} hello on the ${path} path: ${kind} channels connect to /clustd/v1/${kind}`
        : `${kind} channels are not served by this node` +
          (kind === "driver" ? " (no driver token is configured)" : "");
      return fail("kind", text, refusal("kind", text));
    }
    // Which ids may connect is checked only in `#finish`, once the client
    // proved the key: an answer here would tell anyone which ids exist.
    const own = await generateEphemeral();
    const shared = await x25519(own.privateKey, ephemeral);
    if (shared === undefined) {
      const text = "invalid X25519 key in hello";
      return fail("malformed", text, refusal("malformed", text));
    }
    const ownRandom = randomBytes(KEY_BYTES);
    const ownDigest = await descriptionDigest(this.#options.description);
    this.#schedule = await keySchedule(psk, shared, {
      version: this.#version,
      kind,
      clientId,
      serverId: this.#options.selfId,
      ephemeralClient: ephemeral,
      ephemeralServer: own.publicRaw,
      randomClient: random,
      randomServer: ownRandom,
      digestClient: digest,
      digestServer: ownDigest,
    });
    this.#clientId = clientId;
    this.#kind = kind;
    this.#fingerprintMatches = kind !== "peer" ||
      timingSafeEqual(digest, ownDigest);
    this.#state = "await_finish";
    return {
      send: {
        type: "welcome",
        version: this.#version,
        id: this.#options.selfId,
        ephemeral: toBase64(own.publicRaw),
        random: toBase64(ownRandom),
        digest: toBase64(ownDigest),
        confirm: toBase64(this.#schedule.serverConfirm),
      },
    };
  }

  #finish(message: Record<string, unknown>): HandshakeStep {
    const confirm = bytesField(message, "confirm");
    const schedule = this.#schedule;
    if (schedule === undefined) {
      return fail("malformed", "finish before hello");
    }
    if (
      confirm === undefined || !timingSafeEqual(confirm, schedule.clientConfirm)
    ) {
      const text = authFailedMessage(this.#kind);
      return fail("auth", text, refusal("auth", text));
    }
    if (!this.#fingerprintMatches) {
      const diff = describeDifference(
        this.#options.description,
        message.description,
      );
      const text =
        `cluster description differs from peer "${this.#clientId}": ` +
        `${diff}; every node needs the same members, roles and timing parameters`;
      return fail(
        "fingerprint",
        text,
        refusal("fingerprint", text, {
          description: this.#options.description,
        }),
      );
    }
    const refused = this.#options.checkClient(this.#kind, this.#clientId);
    if (refused !== undefined) {
      return fail("identity", refused, refusal("identity", refused));
    }
    return {
      result: {
        ok: true,
        peerId: this.#clientId,
        keys: {
          sendChainKey: schedule.serverChain,
          receiveChainKey: schedule.clientChain,
          sessionId: schedule.sessionId,
        },
      },
    };
  }
}

function show(value: unknown): string {
  return (JSON.stringify(value) ?? "undefined").slice(0, 40);
}
