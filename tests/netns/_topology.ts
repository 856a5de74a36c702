/**
 * Test hosts made of Linux network namespaces: one namespace per host, a
 * bridge in its own namespace, a veth pair per host, addresses in
 * 198.18.0.0/24 only (host i gets 198.18.0.<10+i>). Faults: nftables drop
 * rules inside the host namespaces (partitions, one-way or both ways) and
 * bridge ports set down (a pulled cable).
 *
 * Needs root, `ip` (iproute2) and `nft`. Never touches the root namespace's
 * interfaces, addresses or rules; never kills a process it did not start
 * (spawned PIDs, plus whatever still runs inside its own per-run namespaces,
 * all descendants of ours). `destroySync()` also runs when the process ends
 * first: on unload, on an uncaught error and on SIGINT, SIGTERM and SIGHUP
 * (`_cleanup.ts`).
 */
import { killQuietly, runCommand, waitAtMost } from "../_process.ts";
import { register, unregister } from "./_cleanup.ts";

/** Network every test host lives in; nothing else is ever configured. */
export const SUBNET_PREFIX = "198.18.0.";
/** Subnet mask length of the test network. */
export const SUBNET_BITS = 24;
/** A spare address in the test network (keepalived's VIP). */
export const VIP_ADDRESS = "198.18.0.100";
/** Most hosts one topology may have (addresses .11 to .99 stay below the VIP). */
export const HOSTS_MAX = 89;
/** Interface name inside each host namespace. */
export const HOST_IFACE = "eth0";
const BRIDGE = "br0";
const NFT_TABLE = "clustd_faults";
const KILL_WAIT_MS = 5000;

/** One test host. */
export interface Host {
  /** Short name: n1, n2, ... */
  name: string;
  /** Network namespace name (`<prefix>-<name>`). */
  ns: string;
  /** IPv4 address of the host in 198.18.0.0/24. */
  address: string;
}

/** Result of a command run to completion inside a host. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of `spawn()`. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  stdout?: "null" | "piped";
  stderr?: "null" | "piped";
}

/** Options of `createTopology()`. */
export interface TopologyOptions {
  /** Namespace name prefix, unique per run; default `cd<pid>`. */
  prefix?: string;
}

/** Options of `partition()`. */
export interface PartitionOptions {
  /** Drop only packets from `a` to `b` (default: both ways). */
  oneWay?: boolean;
}

/** A running topology; call `destroy()` when done (try/finally). */
export interface Topology {
  readonly prefix: string;
  readonly hosts: readonly Host[];
  /** The bridge's namespace. */
  readonly bridgeNs: string;
  /** Runs `cmd` inside `host` to completion. */
  exec(host: Host | string, cmd: string[]): Promise<ExecResult>;
  /** Starts `cmd` inside `host` (`ip netns exec` execs it: the PID is the program's). */
  spawn(
    host: Host | string,
    cmd: string[],
    options?: SpawnOptions,
  ): Deno.ChildProcess;
  /** Drops traffic between `a` and `b` (from `a` to `b` only with `oneWay`). */
  partition(
    a: Host | string,
    b: Host | string,
    options?: PartitionOptions,
  ): Promise<void>;
  /** Drops all traffic between `host` and every other host, atomically. */
  isolate(host: Host | string): Promise<void>;
  /** Removes every drop rule and brings every link up. */
  heal(): Promise<void>;
  /** Sets the host's bridge port down (carrier lost). */
  linkDown(host: Host | string): Promise<void>;
  /** Sets the host's bridge port up again. */
  linkUp(host: Host | string): Promise<void>;
  /** Kills what it spawned, deletes every namespace it made. Idempotent. */
  destroy(): Promise<void>;
}

async function must(args: string[]): Promise<string> {
  const result = await runCommand(args);
  if (result.code !== 0) {
    throw new Error(
      `Command "${
        args.join(" ")
      }" failed (${result.code}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Runs a cleanup command synchronously; a failure is reported, not thrown. */
function runSync(args: string[]): string {
  try {
    const output = new Deno.Command(args[0] ?? "true", {
      args: args.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(output.stdout);
  } catch (error: unknown) {
    console.error(`cleanup: "${args.join(" ")}" failed: ${String(error)}`);
    return "";
  }
}

/** PIDs in `ip netns pids` output. */
function pidsOf(output: string): number[] {
  return output.split("\n").filter((l) => l.trim() !== "").map(Number);
}

class TopologyImpl implements Topology {
  readonly prefix: string;
  readonly hosts: Host[];
  readonly bridgeNs: string;
  readonly #children = new Set<Deno.ChildProcess>();
  readonly #created: string[] = [];
  #destroyed = false;

  constructor(count: number, prefix: string) {
    this.prefix = prefix;
    this.bridgeNs = `${prefix}-br`;
    this.hosts = Array.from({ length: count }, (_, i) => ({
      name: `n${i + 1}`,
      ns: `${prefix}-n${i + 1}`,
      address: `${SUBNET_PREFIX}${11 + i}`,
    }));
  }

  async build(): Promise<void> {
    await must(["ip", "netns", "add", this.bridgeNs]);
    this.#created.push(this.bridgeNs);
    const br = ["ip", "-n", this.bridgeNs];
    await must([...br, "link", "set", "lo", "up"]);
    await must([...br, "link", "add", BRIDGE, "type", "bridge"]);
    await must([...br, "link", "set", BRIDGE, "up"]);
    for (const [i, host] of this.hosts.entries()) {
      await must(["ip", "netns", "add", host.ns]);
      this.#created.push(host.ns);
      const ip = ["ip", "-n", host.ns];
      const port = `p${i + 1}`;
      // Both ends are created inside our namespaces, never in the root one.
      await must([
        ...ip,
        ...[
          "link",
          "add",
          HOST_IFACE,
          "type",
          "veth",
          "peer",
          "name",
          port,
          "netns",
        ],
        this.bridgeNs,
      ]);
      await must([...br, "link", "set", port, "master", BRIDGE]);
      await must([...br, "link", "set", port, "up"]);
      await must([...ip, "link", "set", "lo", "up"]);
      await must([
        ...ip,
        "addr",
        "add",
        `${host.address}/${SUBNET_BITS}`,
        "dev",
        HOST_IFACE,
      ]);
      await must([...ip, "link", "set", HOST_IFACE, "up"]);
    }
  }

  host(ref: Host | string): Host {
    if (typeof ref !== "string") return ref;
    const host = this.hosts.find((h) => h.name === ref || h.ns === ref);
    if (host === undefined) throw new Error(`Unknown host "${ref}"`);
    return host;
  }

  exec(ref: Host | string, cmd: string[]): Promise<ExecResult> {
    return runCommand(["ip", "netns", "exec", this.host(ref).ns, ...cmd]);
  }

  spawn(
    ref: Host | string,
    cmd: string[],
    options: SpawnOptions = {},
  ): Deno.ChildProcess {
    if (this.#destroyed) throw new Error("Topology is destroyed");
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.host(ref).ns, ...cmd],
      stdin: "null",
      stdout: options.stdout ?? "null",
      stderr: options.stderr ?? "null",
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    }).spawn();
    this.#children.add(child);
    child.status.then(
      () => this.#children.delete(child),
      () => this.#children.delete(child),
    );
    return child;
  }

  async #nft(host: Host, script: string): Promise<void> {
    await must(["ip", "netns", "exec", host.ns, "nft", script]);
  }

  async #ensureTable(host: Host): Promise<void> {
    await this.#nft(
      host,
      `add table inet ${NFT_TABLE}; ` +
        `add chain inet ${NFT_TABLE} input { type filter hook input priority 0; policy accept; }`,
    );
  }

  async #dropFrom(at: Host, source: Host): Promise<void> {
    await this.#ensureTable(at);
    await this.#nft(
      at,
      `add rule inet ${NFT_TABLE} input ip saddr ${source.address} drop`,
    );
  }

  async partition(
    a: Host | string,
    b: Host | string,
    options: PartitionOptions = {},
  ) {
    const from = this.host(a);
    const to = this.host(b);
    // Dropping on input at the receiver: the sender's packets leave but never arrive.
    await this.#dropFrom(to, from);
    if (options.oneWay !== true) await this.#dropFrom(from, to);
  }

  async isolate(ref: Host | string): Promise<void> {
    // One nft transaction in the bridge ("switch") namespace: every frame to
    // or from the host's port is dropped from one instant on, as if its cable
    // were cut without losing carrier. Per-host input rules would take a
    // handful of nft runs, isolating the host peer by peer over ~50 ms.
    const port = this.#port(ref);
    const chain = `bridge ${NFT_TABLE} cut`;
    await must(this.#inBridge(
      `add table bridge ${NFT_TABLE}; ` +
        `add chain ${chain} { type filter hook forward priority 0; policy accept; }; ` +
        `add rule ${chain} iifname "${port}" drop; ` +
        `add rule ${chain} oifname "${port}" drop`,
    ));
  }

  /** argv running `nft script` in the bridge namespace. */
  #inBridge(script: string): string[] {
    return ["ip", "netns", "exec", this.bridgeNs, "nft", script];
  }

  async heal(): Promise<void> {
    const bridge = await runCommand(this.#inBridge("list tables"));
    if (bridge.stdout.includes(NFT_TABLE)) {
      await must(this.#inBridge(`delete table bridge ${NFT_TABLE}`));
    }
    for (const host of this.hosts) {
      const tables = await this.exec(host, ["nft", "list", "tables"]);
      if (tables.stdout.includes(NFT_TABLE)) {
        await this.#nft(host, `delete table inet ${NFT_TABLE}`);
      }
      await this.linkUp(host);
    }
  }

  #port(ref: Host | string): string {
    return `p${this.hosts.indexOf(this.host(ref)) + 1}`;
  }

  async #setPort(ref: Host | string, state: "up" | "down"): Promise<void> {
    const port = this.#port(ref);
    await must(["ip", "-n", this.bridgeNs, "link", "set", port, state]);
  }

  linkDown(ref: Host | string): Promise<void> {
    return this.#setPort(ref, "down");
  }

  linkUp(ref: Host | string): Promise<void> {
    return this.#setPort(ref, "up");
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const child of this.#children) killQuietly(child.pid, "SIGCONT");
    for (const child of this.#children) killQuietly(child.pid, "SIGKILL");
    const exits = [...this.#children].map((c) => c.status);
    await waitAtMost(Promise.all(exits), KILL_WAIT_MS);
    // Processes left in our namespaces are descendants of ours (keepalived's
    // forked VRRP child, hook scripts): the namespace names are unique per run.
    for (const ns of this.#created) {
      const pids = await runCommand(["ip", "netns", "pids", ns]);
      for (const pid of pidsOf(pids.stdout)) killQuietly(pid, "SIGKILL");
    }
    for (const ns of [...this.#created].reverse()) {
      await runCommand(["ip", "netns", "del", ns]);
    }
    this.#created.length = 0;
    unregister(this);
  }

  /** Synchronous last-resort cleanup for unload, errors and signals. */
  destroySync(): void {
    this.#destroyed = true;
    for (const child of this.#children) killQuietly(child.pid, "SIGKILL");
    for (const ns of this.#created) {
      const pids = runSync(["ip", "netns", "pids", ns]);
      for (const pid of pidsOf(pids)) killQuietly(pid, "SIGKILL");
    }
    for (const ns of [...this.#created].reverse()) {
      runSync(["ip", "netns", "del", ns]);
    }
    this.#created.length = 0;
    unregister(this);
  }
}

/** Namespaces whose name starts with `prefix-` (to check a cleanup). */
export async function listNamespaces(prefix: string): Promise<string[]> {
  const result = await must(["ip", "netns", "list"]);
  return result.split("\n").map((l) => l.split(" ")[0] ?? "").filter((name) =>
    name.startsWith(`${prefix}-`)
  );
}

/** Whether this process can build topologies (root with `ip` and `nft`). */
export async function topologySupported(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  try {
    const ip = await runCommand(["ip", "netns", "list"]);
    const nft = await runCommand(["nft", "--version"]);
    return ip.code === 0 && nft.code === 0;
  } catch (_error: unknown) {
    return false;
  }
}

let sequence = 0;

/** Creates `count` hosts on one bridge; on a setup error everything made so far is removed. */
export async function createTopology(
  count: number,
  options: TopologyOptions = {},
): Promise<Topology> {
  if (!Number.isInteger(count) || count < 1 || count > HOSTS_MAX) {
    throw new Error(`Host count must be 1..${HOSTS_MAX}, got ${count}`);
  }
  sequence += 1;
  const prefix = options.prefix ??
    `cd${Deno.pid}${sequence === 1 ? "" : `x${sequence}`}`;
  if (!/^[a-z0-9]{1,10}$/.test(prefix)) {
    throw new Error(`Prefix "${prefix}" must be 1-10 characters of [a-z0-9]`);
  }
  const topology = new TopologyImpl(count, prefix);
  register(topology);
  try {
    await topology.build();
  } catch (error: unknown) {
    await topology.destroy();
    throw error;
  }
  return topology;
}
