/**
 * The common part of a cluster of real processes on the network-namespace
 * test hosts (clustd's and keepalived's): a temp dir with one hook log every
 * node appends to, one process per host started through `ip netns exec`
 * with its stderr appended to a per-host log, and the teardown. Subclasses
 * write the configs, start their program and decide how it is signalled.
 *
 * Kills only the processes it started, by PID; removes only its temp dir
 * (also when the process ends first, through `_cleanup.ts`), and destroys
 * the topology only when it was handed ownership of it.
 */
import { execLoggedArgv, killChild, readLog, ROOT } from "../_process.ts";
import { register, type SyncDestroyable, unregister } from "./_cleanup.ts";
import type { Host, Topology } from "./_topology.ts";

const PRIORITY_TOP = 100;
const PRIORITY_STEP = 10;
/** Longest wait for a process to exit after SIGKILL or SIGTERM. */
export const EXIT_WAIT_MS = 20_000;

/** One host's process, as the base class tracks it. */
export interface HostProcess {
  readonly host: Host;
  /** The process's stderr, appended to across restarts. */
  readonly logPath: string;
  /** The running process we started, or null. */
  child: Deno.ChildProcess | null;
}

/** Options of the base constructor. */
export interface ProcessClusterOptions {
  /** Temp dir name prefix, e.g. `clustd-netns-`. */
  dirPrefix: string;
  /** `close()` destroys the topology too (default false: it is the caller's). */
  ownsTopology?: boolean;
  /** Keep the temp dir on close unless told otherwise (to read logs after a failure). */
  keepDir?: boolean;
  /** Only the first `members` hosts run the tool (the rest are clients); default all. */
  members?: number;
}

/** A cluster of one process per host of a topology, with a shared hook log. */
export abstract class NetnsProcessCluster<P extends HostProcess> {
  readonly topology: Topology;
  readonly dir: string;
  readonly hookLogPath: string;
  readonly hosts: readonly string[];
  readonly #processes = new Map<string, P>();
  readonly #ownsTopology: boolean;
  readonly #keepDir: boolean;
  /** Removes the temp dir if the process ends before `close()` (after the topology's teardown). */
  readonly #leftovers: SyncDestroyable = {
    destroySync: () => {
      if (this.#keepDir) return;
      try {
        Deno.removeSync(this.dir, { recursive: true });
      } catch (error: unknown) {
        console.error(`cleanup: removing ${this.dir} failed: ${String(error)}`);
      }
    },
  };
  #closed = false;

  protected constructor(topology: Topology, options: ProcessClusterOptions) {
    this.topology = topology;
    this.#ownsTopology = options.ownsTopology ?? false;
    this.#keepDir = options.keepDir ?? false;
    this.dir = Deno.makeTempDirSync({ prefix: options.dirPrefix });
    this.hookLogPath = `${this.dir}/hooks.log`;
    this.hosts = topology.hosts.slice(0, options.members).map((h) => h.name);
    Deno.writeTextFileSync(this.hookLogPath, "");
    register(this.#leftovers);
  }

  /** Tracks `process` under its host's name. */
  protected add(process: P): void {
    this.#processes.set(process.host.name, process);
  }

  /** The process record of `host`; throws on a name the topology lacks. */
  protected process(host: string): P {
    const process = this.#processes.get(host);
    if (process === undefined) throw new Error(`Unknown host "${host}"`);
    return process;
  }

  /** The host's priority: 100 for n1, then 90, 80, ... down to 10 (the same for every tool). */
  protected priority(host: Host): number {
    const index = this.topology.hosts.indexOf(host);
    return Math.max(PRIORITY_STEP, PRIORITY_TOP - PRIORITY_STEP * index);
  }

  /** Every process record, in host order. */
  protected processes(): P[] {
    return [...this.#processes.values()];
  }

  /**
   * Starts `argv` inside the host of `process` from the repo root, stderr
   * appended to its log; the child's PID is the program's.
   */
  protected spawn(
    process: P,
    argv: readonly string[],
    env?: Record<string, string>,
  ): Deno.ChildProcess {
    const child = this.topology.spawn(
      process.host,
      execLoggedArgv(argv, process.logPath),
      { cwd: ROOT, ...(env === undefined ? {} : { env }) },
    );
    process.child = child;
    return child;
  }

  /** SIGCONT then SIGKILL to the process we started, and reap it. */
  protected async halt(process: P): Promise<void> {
    if (process.child === null) return;
    await killChild(process.child, EXIT_WAIT_MS);
    process.child = null;
  }

  /** Whether `host` runs a process we started (not killed or exited). */
  running(host: string): boolean {
    return this.process(host).child !== null;
  }

  /** The process's stderr so far (for failure messages). */
  logOf(host: string): string {
    return readLog(this.process(host).logPath);
  }

  /**
   * Kills every process still running (by PID), destroys the topology if
   * it owns it and removes the temp dir unless `keep`. Safe to call twice.
   */
  async close(keep = this.#keepDir): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const process of this.#processes.values()) {
        if (process.child !== null) await this.halt(process);
      }
    } finally {
      unregister(this.#leftovers);
      if (this.#ownsTopology) await this.topology.destroy();
      if (!keep) Deno.removeSync(this.dir, { recursive: true });
    }
  }
}
