/**
 * Fault injection for the safety phase: partitions (symmetric, one-way,
 * swizzle-clogging), dropped connections, crashes with and without state_dir,
 * pauses longer than E, link delay spikes, failing checks and operator
 * commands. Each fault undoes itself later; `healAll` undoes everything.
 */

import type { DelayProfile } from "./delay.ts";
import type { SimNode, World } from "./world.ts";

/** The kinds of fault a schedule draws from. */
export const FAULT_KINDS = [
  "partition",
  "one_way",
  "swizzle",
  "drop_connection",
  "crash",
  "pause",
  "delay_spike",
  "check_fail",
  "command",
  "maintenance",
] as const;

function pick<T>(world: World, items: readonly T[]): T {
  const item = items[world.prng.intBelow(items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function shuffled<T>(world: World, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = world.prng.intBelow(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function block(
  world: World,
  from: string,
  to: string,
  durationMs: number,
): void {
  world.blocked.add(`${from}>${to}`);
  world.schedule(
    durationMs,
    `unblock ${from}>${to}`,
    () => world.blocked.delete(`${from}>${to}`),
  );
}

/** Injects one random fault now; it heals itself after a random duration. */
export function injectFault(world: World): void {
  const E = world.timing.electionTimeoutMs;
  const kind = pick(world, FAULT_KINDS);
  const durationMs = world.prng.between(0.2 * E, 6 * E);
  const ids = world.nodes.map((node) => node.id);
  const target = pick(world, world.nodes);
  world.trace.add(world.nowMs, "sim", `fault ${kind}`, {
    node: target.id,
    durationMs: Math.round(durationMs),
  });
  switch (kind) {
    case "partition": {
      // Split into two sides; every link across is cut both ways.
      const side = new Set(
        shuffled(world, ids).slice(0, 1 + world.prng.intBelow(ids.length - 1)),
      );
      for (const a of ids) {
        for (const b of ids) {
          if (side.has(a) && !side.has(b)) {
            block(world, a, b, durationMs);
            block(world, b, a, durationMs);
          }
        }
      }
      return;
    }
    case "one_way": {
      const other = pick(world, ids.filter((id) => id !== target.id));
      const inbound = world.prng.chance(0.5);
      if (inbound) block(world, other, target.id, durationMs);
      else block(world, target.id, other, durationMs);
      return;
    }
    case "swizzle": {
      // FoundationDB's swizzle-clogging: stop links one by one, restore in random order.
      const pairs = shuffled(
        world,
        ids.flatMap((a) =>
          ids.filter((b) => b !== a).map((b) => [a, b] as const)
        ),
      )
        .slice(0, 1 + world.prng.intBelow(ids.length * 2));
      pairs.forEach(([a, b], i) => {
        world.schedule(i * E * 0.3, `clog ${a}>${b}`, () => {
          if (world.faultsActive) world.blocked.add(`${a}>${b}`);
        });
        world.schedule(
          pairs.length * E * 0.3 + world.prng.between(0, durationMs),
          `unclog ${a}>${b}`,
          () => world.blocked.delete(`${a}>${b}`),
        );
      });
      return;
    }
    case "drop_connection": {
      const other = pick(world, ids.filter((id) => id !== target.id));
      world.disconnect(target.id, other, true);
      return;
    }
    case "crash": {
      const loseState = world.prng.chance(0.3);
      world.crash(target, "SIGKILL");
      world.schedule(
        durationMs,
        `restart ${target.id}${loseState ? " (empty state_dir)" : ""}`,
        () => {
          if (target.election === null) world.boot(target, loseState);
        },
      );
      return;
    }
    case "pause":
      if (target.election !== null) {
        target.pausedUntilMs = world.nowMs +
          world.prng.between(1.05 * E, 4 * E);
      }
      return;
    case "delay_spike": {
      const other = pick(world, ids.filter((id) => id !== target.id));
      const direction = `${target.id}>${other}`;
      const profile = world.profiles.get(direction);
      if (profile === undefined) return;
      world.profiles.set(direction, {
        ...profile,
        baseMs: world.prng.between(20, 2 * E),
      });
      world.schedule(
        durationMs,
        `spike over ${direction}`,
        () => world.profiles.set(direction, profile),
      );
      return;
    }
    case "check_fail":
      world.input(target, { kind: "check", healthy: false });
      world.schedule(
        durationMs,
        `check ok ${target.id}`,
        () => world.input(target, { kind: "check", healthy: true }),
      );
      return;
    case "command":
      return injectCommand(world, target);
    case "maintenance":
      return setMaintenance(world, true, durationMs);
  }
}

/**
 * `clustd pause` on one node: the flag reaches every live node within a few
 * ms (the mesh gossip), and `resume` after `durationMs` likewise.
 */
function setMaintenance(
  world: World,
  paused: boolean,
  durationMs: number | null,
): void {
  world.maintenance = paused;
  for (const node of world.nodes) {
    world.schedule(
      world.prng.between(0, 20),
      `${paused ? "pause" : "resume"} reaches ${node.id}`,
      () => {
        if (node.election !== null) {
          world.input(node, { kind: "pause", paused: world.maintenance });
        }
      },
    );
  }
  if (paused && durationMs !== null) {
    world.schedule(durationMs, "resume", () => {
      if (world.faultsActive) setMaintenance(world, false, null);
    });
  }
}

function injectCommand(world: World, target: SimNode): void {
  const roll = world.prng.intBelow(4);
  const requestId = `${
    ["switchover", "drain", "switchover", "shutdown"][roll]
  }-${world.events}`;
  if (roll === 0 || roll === 2) {
    const to = roll === 2 ? pick(world, world.nodes).id : undefined;
    world.input(target, {
      kind: "command",
      requestId,
      command: to === undefined || to === target.id
        ? { type: "switchover" }
        : { type: "switchover", to },
    });
  } else if (roll === 1) {
    world.input(target, {
      kind: "command",
      requestId,
      command: { type: "drain" },
    });
    world.schedule(
      world.prng.between(100, 1000),
      `undrain ${target.id}`,
      () =>
        world.input(target, {
          kind: "command",
          requestId: `undrain-${world.events}`,
          command: { type: "undrain" },
        }),
    );
  } else {
    world.input(target, {
      kind: "command",
      requestId,
      command: { type: "shutdown" },
    });
    // The service manager starts it again a little later.
    world.schedule(
      world.prng.between(50, 1500),
      `systemd restarts ${target.id}`,
      () => {
        if (target.election === null) world.boot(target, false);
      },
    );
  }
}

/** Heals every fault: links, delays, processes, pauses, checks, drains. */
export function healAll(
  world: World,
  profiles: Map<string, DelayProfile>,
): void {
  world.faultsActive = false;
  world.blocked.clear();
  world.maintenance = false;
  for (const [direction, profile] of profiles) {
    world.profiles.set(direction, profile);
  }
  for (const node of world.nodes) {
    if (node.election === null) world.boot(node, false);
    node.pausedUntilMs = Math.min(node.pausedUntilMs, world.nowMs);
    world.input(node, { kind: "check", healthy: true });
    world.input(node, { kind: "pause", paused: false });
    world.input(node, {
      kind: "command",
      requestId: `heal-undrain-${node.id}`,
      command: { type: "undrain" },
    });
    for (const peer of world.nodes) {
      if (peer.id < node.id) world.connect(node.id, peer.id);
    }
  }
}
