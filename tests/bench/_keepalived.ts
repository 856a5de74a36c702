/**
 * keepalived (Debian's, VRRPv3) on the network-namespace test hosts, set up
 * the way an operator would for the same job as clustd: unicast peers between
 * the 198.18.0.x addresses, priorities 100/90/80, `nopreempt` (clustd's
 * `preempt: false`), one VIP, and notify scripts writing the same hook log
 * line as clustd's hooks: `<ms epoch> <host> promote|demote|fault|stop 0 <host>`.
 *
 * Owns the config files, the pid files and the processes it started (the
 * keepalived parent by PID, its forked VRRP child by its pid file). Never
 * touches anything outside its temp dir and the topology's namespaces.
 */
import {
  type Host,
  HOST_IFACE,
  type Topology,
  VIP_ADDRESS,
} from "../netns/_topology.ts";

/** Priorities given to hosts n1, n2, n3, ... (then 70, 60, ... down to 10). */
export const KEEPALIVED_PRIORITIES = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10];
const PID_FILE_WAIT_MS = 5000;
const POLL_MS = 10;

/** Options of `KeepalivedCluster.create()`. */
export interface KeepalivedOptions {
  /** VRRP advertisement interval; VRRPv3 allows 10 ms steps below one second. */
  advertIntMs: number;
}

interface Instance {
  host: Host;
  configPath: string;
  pidPath: string;
  vrrpPidPath: string;
  logPath: string;
  child: Deno.ChildProcess | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise` at most `ms`, leaving no timer behind. */
async function waitAtMost(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) =>
    timer = setTimeout(resolve, ms)
  );
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (_error: unknown) {
    // Already gone: the kill has nothing left to do.
  }
}

/** keepalived on every host of a topology; implements the bench's FailoverCluster shape. */
export class KeepalivedCluster {
  readonly tool = "keepalived";
  readonly dir: string;
  readonly hookLogPath: string;
  readonly hosts: readonly string[];
  /** keepalived has no lease: a master stays master until it says otherwise. */
  readonly leaseMs: number | null = null;
  readonly advertIntMs: number;
  readonly #topology: Topology;
  readonly #instances = new Map<string, Instance>();

  private constructor(topology: Topology, options: KeepalivedOptions) {
    if (options.advertIntMs < 10 || options.advertIntMs % 10 !== 0) {
      throw new Error(
        `advert_int must be a multiple of 10 ms, got ${options.advertIntMs}`,
      );
    }
    this.#topology = topology;
    this.advertIntMs = options.advertIntMs;
    this.dir = Deno.makeTempDirSync({ prefix: "clustd-bench-keepalived-" });
    this.hookLogPath = `${this.dir}/hooks.log`;
    this.hosts = topology.hosts.map((h) => h.name);
    Deno.writeTextFileSync(this.hookLogPath, "");
    const notify = `${this.dir}/notify.sh`;
    Deno.writeTextFileSync(
      notify,
      `#!/bin/sh\necho "$(date +%s%3N) $1 $2 0 $1" >> ${this.hookLogPath}\n`,
      { mode: 0o755 },
    );
    for (const [i, host] of topology.hosts.entries()) {
      const instance: Instance = {
        host,
        configPath: `${this.dir}/${host.name}.conf`,
        pidPath: `${this.dir}/${host.name}.pid`,
        vrrpPidPath: `${this.dir}/${host.name}-vrrp.pid`,
        logPath: `${this.dir}/${host.name}.log`,
        child: null,
      };
      const priority = KEEPALIVED_PRIORITIES[i] ?? 10;
      Deno.writeTextFileSync(
        instance.configPath,
        this.#config(host, priority, notify),
      );
      this.#instances.set(host.name, instance);
    }
  }

  /** Writes configs for every host of `topology`; starts nothing. */
  static create(
    topology: Topology,
    options: KeepalivedOptions,
  ): KeepalivedCluster {
    return new KeepalivedCluster(topology, options);
  }

  #config(host: Host, priority: number, notify: string): string {
    const peers = this.#topology.hosts.filter((h) => h !== host)
      .map((h) => `    ${h.address}\n`).join("");
    const seconds = (this.advertIntMs / 1000).toFixed(2);
    const hook = (event: string) => `"${notify} ${host.name} ${event}"`;
    return `global_defs {
  router_id ${host.name}
  vrrp_version 3
  script_user root
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface ${HOST_IFACE}
  virtual_router_id 51
  priority ${priority}
  advert_int ${seconds}
  unicast_src_ip ${host.address}
  unicast_peer {
${peers}  }
  virtual_ipaddress {
    ${VIP_ADDRESS}/24 dev ${HOST_IFACE}
  }
  notify_master ${hook("promote")}
  notify_backup ${hook("demote")}
  notify_fault ${hook("fault")}
  notify_stop ${hook("stop")}
}
`;
  }

  #instance(host: string): Instance {
    const instance = this.#instances.get(host);
    if (instance === undefined) throw new Error(`Unknown host "${host}"`);
    return instance;
  }

  /** Starts keepalived (VRRP only, foreground) on `host`. */
  start(host: string): void {
    const instance = this.#instance(host);
    if (instance.child !== null) {
      throw new Error(`keepalived on ${host} already runs`);
    }
    // Stale pid files from a killed run would name dead (or reused) PIDs.
    for (const path of [instance.pidPath, instance.vrrpPidPath]) {
      try {
        Deno.removeSync(path);
      } catch (error: unknown) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    const child = this.#topology.spawn(instance.host, [
      "keepalived",
      ...[
        "--dont-fork",
        "--log-console",
        "--log-detail",
        "--no-syslog",
        "--vrrp",
      ],
      ...["--use-file", instance.configPath, "--pid", instance.pidPath],
      ...["--vrrp_pid", instance.vrrpPidPath],
    ], { stdout: "null", stderr: "piped" });
    const file = Deno.openSync(instance.logPath, {
      append: true,
      create: true,
      write: true,
    });
    child.stderr.pipeTo(file.writable).catch((error: unknown) => {
      console.error(`keepalived ${host} log: ${String(error)}`);
    });
    instance.child = child;
  }

  /** Whether keepalived runs on `host` (started by us and not killed). */
  running(host: string): boolean {
    return this.#instance(host).child !== null;
  }

  async #vrrpPid(instance: Instance): Promise<number | null> {
    const deadline = Date.now() + PID_FILE_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        const pid = Number(Deno.readTextFileSync(instance.vrrpPidPath).trim());
        if (Number.isInteger(pid) && pid > 0) return pid;
      } catch (_error: unknown) {
        // Not written yet: keepalived writes it once the VRRP child forked.
      }
      await sleep(POLL_MS);
    }
    return null;
  }

  /**
   * Sends `signal` to `host`'s keepalived; returns the wall-clock ms it was sent.
   * SIGKILL is a crash: the VRRP child first (it sends the adverts; killing the
   * parent first would make the child exit cleanly with a priority-0 advert),
   * then the parent, then the VIP is removed as a reboot would. SIGTERM is a
   * clean stop (priority 0 advert: keepalived's handover). SIGSTOP/SIGCONT
   * freeze and thaw the VRRP child.
   */
  async signal(host: string, signal: Deno.Signal): Promise<number> {
    const instance = this.#instance(host);
    const child = instance.child;
    if (child === null) throw new Error(`keepalived on ${host} is not running`);
    const vrrp = await this.#vrrpPid(instance);
    const atMs = Date.now();
    if (signal === "SIGKILL") {
      if (vrrp !== null) killQuietly(vrrp, "SIGKILL");
      killQuietly(child.pid, "SIGKILL");
    } else if (signal === "SIGSTOP" || signal === "SIGCONT") {
      killQuietly(vrrp ?? child.pid, signal);
    } else {
      killQuietly(child.pid, signal);
    }
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      await waitAtMost(child.status, PID_FILE_WAIT_MS);
      instance.child = null;
      if (vrrp !== null) killQuietly(vrrp, "SIGKILL");
      await this.#topology.exec(instance.host, [
        ...["ip", "addr", "del", `${VIP_ADDRESS}/24`, "dev", HOST_IFACE],
      ]);
    }
    return atMs;
  }

  /** keepalived's own log of `host` (for failure messages). */
  logOf(host: string): string {
    try {
      return Deno.readTextFileSync(this.#instance(host).logPath);
    } catch (_error: unknown) {
      return "";
    }
  }

  /** Kills every instance still running (by PID) and removes the temp dir. */
  async close(keep = false): Promise<void> {
    for (const instance of this.#instances.values()) {
      if (instance.child === null) continue;
      await this.signal(instance.host.name, "SIGCONT");
      await this.signal(instance.host.name, "SIGKILL");
    }
    if (!keep) Deno.removeSync(this.dir, { recursive: true });
  }
}
