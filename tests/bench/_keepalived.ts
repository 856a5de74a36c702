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
import { writeHookScript } from "../_hook_log.ts";
import { killQuietly, sleep, waitAtMost } from "../_process.ts";
import {
  type HostProcess,
  NetnsProcessCluster,
} from "../netns/_process_cluster.ts";
import {
  type Host,
  HOST_IFACE,
  type Topology,
  VIP_ADDRESS,
} from "../netns/_topology.ts";

const PID_FILE_WAIT_MS = 5000;
const POLL_MS = 10;

/** Options of `KeepalivedCluster.create()`. */
export interface KeepalivedOptions {
  /** VRRP advertisement interval; VRRPv3 allows 10 ms steps below one second. */
  advertIntMs: number;
  /** Only the first `members` hosts run keepalived (the rest are clients); default all. */
  members?: number;
}

interface Instance extends HostProcess {
  configPath: string;
  pidPath: string;
  vrrpPidPath: string;
}

/** keepalived on every host of a topology; implements the bench's FailoverCluster shape. */
export class KeepalivedCluster extends NetnsProcessCluster<Instance> {
  readonly tool = "keepalived";
  /** keepalived has no lease: a master stays master until it says otherwise. */
  readonly leaseMs: number | null = null;
  readonly advertIntMs: number;
  readonly #members: Host[];

  private constructor(topology: Topology, options: KeepalivedOptions) {
    if (options.advertIntMs < 10 || options.advertIntMs % 10 !== 0) {
      throw new Error(
        `advert_int must be a multiple of 10 ms, got ${options.advertIntMs}`,
      );
    }
    super(topology, {
      dirPrefix: "clustd-bench-keepalived-",
      ...(options.members === undefined ? {} : { members: options.members }),
    });
    this.#members = topology.hosts.slice(0, options.members);
    this.advertIntMs = options.advertIntMs;
    const notify = `${this.dir}/notify.sh`;
    writeHookScript(notify, this.hookLogPath, {
      line: "$(date +%s%3N) $1 $2 0 $1",
    });
    for (const host of this.#members) {
      const instance: Instance = {
        host,
        configPath: `${this.dir}/${host.name}.conf`,
        pidPath: `${this.dir}/${host.name}.pid`,
        vrrpPidPath: `${this.dir}/${host.name}-vrrp.pid`,
        logPath: `${this.dir}/${host.name}.log`,
        child: null,
      };
      Deno.writeTextFileSync(
        instance.configPath,
        this.#config(host, this.priority(host), notify),
      );
      this.add(instance);
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
    const peers = this.#members.filter((h) => h !== host)
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

  /** Starts keepalived (VRRP only, foreground) on `host`. */
  start(host: string): void {
    const instance = this.process(host);
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
    this.spawn(instance, [
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
    ]);
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
    const instance = this.process(host);
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
      await this.topology.exec(instance.host, [
        ...["ip", "addr", "del", `${VIP_ADDRESS}/24`, "dev", HOST_IFACE],
      ]);
    }
    return atMs;
  }

  /** Thaws and crashes an instance still running at close (VRRP child, parent, VIP). */
  protected override async halt(instance: Instance): Promise<void> {
    await this.signal(instance.host.name, "SIGCONT");
    await this.signal(instance.host.name, "SIGKILL");
  }
}
