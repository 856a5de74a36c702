/**
 * One control channel for several requests: `clustd status` and `history`
 * ask the local daemon for its own answer and, through it, for every
 * member's (the daemon relays over the peer mesh). Requests carry an `id`
 * that the answer echoes. Bounded: each request has a timeout, and the
 * waiting list holds at most SESSION_WAITING_MAX requests.
 */

import { connectChannel } from "../mesh/client.ts";
import type { SecureChannel } from "../mesh/mesh.ts";

/** Requests waiting for an answer at once. */
const SESSION_WAITING_MAX = 256;

type Answer = Record<string, unknown>;

interface Waiting {
  match(answer: Answer): boolean;
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An open, authenticated control channel to one daemon. */
export class ControlSession {
  readonly #channel: SecureChannel;
  readonly #url: string;
  readonly #waiting = new Set<Waiting>();
  #closedReason: string | null = null;

  private constructor(channel: SecureChannel, url: string) {
    this.#channel = channel;
    this.#url = url;
    channel.onMessage((message) => {
      const answer = typeof message === "object" && message !== null
        ? message as Answer
        : {};
      for (const waiting of this.#waiting) {
        if (!waiting.match(answer)) continue;
        this.#waiting.delete(waiting);
        waiting.resolve(answer);
        return;
      }
    });
    channel.closed.then((reason) => {
      this.#closedReason = reason;
      for (const waiting of this.#waiting) {
        waiting.reject(new Error(`the daemon closed the channel: ${reason}`));
      }
      this.#waiting.clear();
    });
  }

  /** Connects with the cluster secret; throws a sentence naming the URL. */
  static async open(url: string, secret: Uint8Array): Promise<ControlSession> {
    try {
      const channel = await connectChannel(url, {
        kind: "control",
        psk: secret,
        selfId: "cli",
      });
      return new ControlSession(channel, url);
    } catch (error: unknown) {
      throw new Error(`cannot reach the daemon at ${url}: ${errorText(error)}`);
    }
  }

  /** Sends `request`; resolves with the first answer `match` accepts. */
  async request(
    request: Answer,
    match: (answer: Answer) => boolean,
    timeoutMs: number,
  ): Promise<Answer> {
    if (this.#closedReason !== null) {
      throw new Error(`the daemon closed the channel: ${this.#closedReason}`);
    }
    if (this.#waiting.size >= SESSION_WAITING_MAX) {
      throw new Error("too many requests waiting");
    }
    const answer = Promise.withResolvers<Answer>();
    const waiting: Waiting = { match, ...answer };
    this.#waiting.add(waiting);
    const timer = setTimeout(() => {
      this.#waiting.delete(waiting);
      answer.reject(
        new Error(`no answer from ${this.#url} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    try {
      this.#channel.send(request);
      return await answer.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the channel and waits until it is closed. */
  async close(): Promise<void> {
    this.#channel.close("done");
    await this.#channel.closed;
  }
}
