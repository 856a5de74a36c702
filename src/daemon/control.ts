/**
 * The daemon's side of the authenticated non-peer channels: the CLI's control
 * channel (status; operator requests go to operator.ts) and external drivers (the
 * original clustd's DriverMachine). Validates every message; a bad one
 * closes that channel only. Decides nothing: commands go to the core.
 */

import type { Config } from "../config/types.ts";
import type { StatusSnapshot } from "../http/handler.ts";
import { Logger } from "../log.ts";
import type { SecureChannel } from "../mesh/mesh.ts";
import type { RoleEvent } from "./driver_host.ts";

/** Control channels open at once. */
const CONTROL_CHANNELS_MAX = 32;
/** How long a refused external driver may read the refusal before we close. */
const REFUSAL_LINGER_MS = 1000;

/** What the control server needs from the daemon. */
export interface ControlServerOptions {
  config: Config;
  status(): StatusSnapshot;
  /** Operator requests (operator.ts); undefined when not one of them. */
  operator(
    record: Record<string, unknown>,
  ): Promise<Record<string, unknown>> | undefined;
}

/** Wire form of a role event for external drivers (same names as the env). */
export function roleEventWire(event: RoleEvent): Record<string, unknown> {
  return {
    type: "event",
    event: event.event,
    reason: event.reason,
    role: event.role,
    term: event.term,
    node_id: event.nodeId,
    master_id: event.masterId,
  };
}

/** Serves control and external-driver channels for one daemon. */
export class ControlServer {
  #options: ControlServerOptions;
  readonly #log = new Logger("control");
  readonly #controls = new Set<SecureChannel>();
  readonly #drivers = new Map<string, SecureChannel>();
  readonly #refusing = new Set<SecureChannel>();
  #lastEvent: RoleEvent | null = null;
  /** Per connected external driver, the last event it acked (`event/term`). */
  readonly #acked = new Map<string, string>();
  /** Re-checked on every ack and disconnect by `acked()`. */
  readonly #ackListeners = new Set<() => void>();

  constructor(options: ControlServerOptions) {
    this.#options = options;
  }

  /** Uses a reloaded config (external driver ids) from now on. */
  setConfig(config: Config): void {
    this.#options = { ...this.#options, config };
  }

  /** Takes an authenticated CLI channel. */
  acceptControl(channel: SecureChannel): void {
    if (this.#controls.size >= CONTROL_CHANNELS_MAX) {
      channel.close("too many control channels");
      return;
    }
    this.#controls.add(channel);
    channel.closed.then(
      () => this.#controls.delete(channel),
      () => this.#controls.delete(channel),
    );
    channel.onMessage((message) => this.#onControl(channel, message));
  }

  #onControl(channel: SecureChannel, message: unknown): void {
    const record = typeof message === "object" && message !== null
      ? message as Record<string, unknown>
      : {};
    if (record["type"] === "status") {
      channel.send({ type: "status", status: this.#options.status() });
      return;
    }
    const answer = this.#options.operator(record);
    if (answer === undefined) {
      this.#log.warn("closing control channel: unexpected message", {
        type: String(record["type"]),
      });
      channel.close("unexpected message");
      return;
    }
    answer.then((reply) => channel.send(reply), (error: unknown) => {
      channel.send({
        type: "reply",
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      });
    });
  }

  /** Takes an authenticated external-driver channel; it must say hello first. */
  acceptDriver(channel: SecureChannel): void {
    const allowed = new Set(
      this.#options.config.drivers.flatMap((d) =>
        d.type === "external" ? [d.id] : []
      ),
    );
    let driverId: string | null = null;
    let refused = false;
    channel.onMessage((message) => {
      if (refused) return;
      const record = typeof message === "object" && message !== null
        ? message as Record<string, unknown>
        : {};
      if (driverId !== null) {
        if (record["type"] === "ack") {
          this.#acked.set(driverId, `${record["event"]}/${record["term"]}`);
          for (const listener of this.#ackListeners) listener();
          this.#log.info("external driver ack", {
            driver: driverId,
            event: String(record["event"]),
            term: String(record["term"]),
            ok: record["ok"] === true,
          });
        }
        return;
      }
      const id = record["driver_id"];
      const problem = this.#helloProblem(record, id, allowed);
      if (problem !== null) {
        refused = true;
        this.#log.warn("refused external driver", {
          driver: String(id),
          reason: problem,
        });
        this.#refuse(channel, problem);
        return;
      }
      driverId = id as string;
      const previous = this.#drivers.get(driverId);
      if (previous !== undefined) {
        previous.close("replaced by a new connection");
      }
      this.#drivers.set(driverId, channel);
      this.#log.info("external driver connected", { driver: driverId });
      channel.send({
        type: "welcome",
        node_id: this.#options.config.node.id,
        state: this.#lastEvent === null ? null : roleEventWire(this.#lastEvent),
      });
    });
    channel.closed.then(() => {
      if (driverId !== null && this.#drivers.get(driverId) === channel) {
        this.#drivers.delete(driverId);
        this.#acked.delete(driverId);
        for (const listener of this.#ackListeners) listener();
        this.#log.info("external driver disconnected", { driver: driverId });
      }
    }, () => {});
  }

  #helloProblem(
    record: Record<string, unknown>,
    id: unknown,
    allowed: Set<string>,
  ): string | null {
    if (record["type"] !== "hello") {
      return `expected a hello message first, got ${
        JSON.stringify(record["type"])
      }`;
    }
    if (typeof id !== "string") return "hello.driver_id must be a string";
    if (allowed.has(id)) return null;
    const node = this.#options.config.node.id;
    return `driver id ${JSON.stringify(id)} is not configured on node ${
      JSON.stringify(node)
    }: add {type: external, id: ${id}} under drivers`;
  }

  /**
   * Sends the refusal and closes later: frames are sealed asynchronously, so
   * closing at once would drop the refusal. The SDK closes on reading it;
   * the timer bounds a client that does not.
   */
  #refuse(channel: SecureChannel, message: string): void {
    channel.send({ type: "refused", message });
    const timer = setTimeout(
      () => channel.close("external driver refused"),
      REFUSAL_LINGER_MS,
    );
    this.#refusing.add(channel);
    channel.closed.then(() => {
      clearTimeout(timer);
      this.#refusing.delete(channel);
    }, () => {});
  }

  /** Sends a role change to every connected external driver. */
  broadcastRoleEvent(event: RoleEvent): void {
    this.#lastEvent = event;
    for (const channel of this.#drivers.values()) {
      channel.send(roleEventWire(event));
    }
  }

  /**
   * Resolves once every external driver connected now has acked `event` (or
   * disconnected), or after `timeoutMs`; returns the ids still silent then.
   * A handover waits on this so the target promotes after the old master's
   * external drivers demoted, as it does for bash and webhook drivers.
   */
  acked(event: RoleEvent, timeoutMs: number): Promise<string[]> {
    const key = `${event.event}/${event.term}`;
    const waiting = new Set(this.#drivers.keys());
    const silent = () =>
      [...waiting].filter((id) =>
        this.#drivers.has(id) && this.#acked.get(id) !== key
      );
    if (silent().length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#ackListeners.delete(listener);
        resolve(silent());
      };
      const listener = () => {
        if (silent().length === 0) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#ackListeners.add(listener);
    });
  }

  /** Closes every channel. */
  async close(): Promise<void> {
    const all = [
      ...this.#controls,
      ...this.#drivers.values(),
      ...this.#refusing,
    ];
    for (const channel of all) channel.close("daemon stopping");
    await Promise.allSettled(all.map((c) => c.closed));
  }
}
