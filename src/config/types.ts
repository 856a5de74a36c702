/**
 * The validated, defaulted configuration every other module reads. Produced
 * only by `loadConfig` / `validateConfig`; never built from raw YAML elsewhere.
 * Durations are milliseconds, names say so.
 */

/** `voter` may become master (unless priority 0); `witness` only votes. */
export type NodeRole = "voter" | "witness";

/** The local node (`node:` in YAML). */
export interface NodeConfig {
  /** Unique id, `[a-z0-9._-]+`. */
  id: string;
  /** `host:port` the single listener binds (mesh, drivers, control, probes). */
  listen: string;
  /** Parsed `listen`. */
  listenHost: string;
  listenPort: number;
  /** How peers reach this node, `ws://` or `wss://`. */
  advertise: string;
  role: NodeRole;
  /**
   * 0..255, higher preferred, 0 never master. Witnesses have 0. Only this
   * node's own: it advertises it to its peers, which rank by what they hear.
   */
  priority: number;
}

/** A remote member (`cluster.peers[]`). */
export interface PeerConfig {
  id: string;
  /** `ws://` or `wss://` URL. */
  url: string;
  /** Defaults to `voter`. A peer's priority is its own (it advertises it). */
  role: NodeRole;
}

/** `cluster:` section. */
export interface ClusterConfig {
  /** Decoded cluster secret, ≥ 32 bytes. */
  secret: Uint8Array;
  /** Where the secret came from, for messages: `secret` or the file path. */
  secretSource: string;
  peers: PeerConfig[];
  /** 10..60000, default 1500. */
  heartbeatMs: number;
  /** ≥ 2 × heartbeatMs, default 3000. */
  electionTimeoutMs: number;
  /** Default 0.9 × electionTimeoutMs; must satisfy L < E/(1.01)². */
  leaseMs: number;
  /** Campaign delay step Δ per rank, default min(h/10, 100). */
  rankDelayMs: number;
  /** Minimum time a freshly elected master holds before handing over voluntarily. */
  minHoldMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Planned handovers: /master answers 503 this long before the demote (0 = none). */
  handoverDrainMs: number;
  twoNode: boolean;
  /** Optional path of the token external drivers authenticate with. */
  driverTokenFile?: string;
  /** Decoded driver token when `driver_token_file` is set. */
  driverToken?: Uint8Array;
  /** Source networks (CIDR) allowed to read /status and /metrics. */
  statusAllow: string[];
  /** Who holds the election: the built-in mesh (default) or etcd. */
  backend: "mesh" | "etcd";
  /** Set exactly when `backend` is `etcd`. */
  etcd?: EtcdConfig;
}

/** `cluster.etcd:`; file contents are read at load time. */
export interface EtcdConfig {
  /** Client URLs (http/https), tried in order with failover. */
  endpoints: string[];
  /** Key prefix of this cluster, e.g. `/clustd/web` (no trailing slash). */
  prefix: string;
  /** etcd lease TTL, whole seconds in ms, 1000..60000, default 3000. */
  ttlMs: number;
  /** PEM contents of `ca_file`, `cert_file`, `key_file`. */
  caCert?: string;
  cert?: string;
  key?: string;
  username?: string;
  /** Content of `password_file`, without its final newline. */
  password?: string;
}

/** Bash driver: scripts run on role changes. */
export interface BashDriverConfig {
  type: "bash";
  /** Unique among drivers, `[a-z0-9._-]+`; default `bash-N` (N-th bash driver, from 0). */
  id: string;
  promote?: string;
  demote?: string;
  prePromote?: string;
  timeoutMs: number;
}

/** Webhook driver: signed JSON POST on role changes. */
export interface WebhookDriverConfig {
  type: "webhook";
  /** Unique among drivers, `[a-z0-9._-]+`; default `webhook-N`. */
  id: string;
  url: string;
  /** Own HMAC key (≠ the cluster secret); default: derived, see deriveWebhookKey. */
  secret?: Uint8Array;
  timeoutMs: number;
  retries: number;
}

/** External driver: a program connects with the driver token. */
export interface ExternalDriverConfig {
  type: "external";
  /** Unique driver id the program connects with (required, no default). */
  id: string;
}

/** VIP driver: an address on a local interface, announced while master. */
export interface VipDriverConfig {
  type: "vip";
  /** Unique driver id (default `vip-<n>`): names it in logs, metrics, reloads. */
  id: string;
  /** Address with prefix, e.g. `10.0.0.100/24` or `2001:db8::100/64`. */
  address: string;
  /** `ip`'s name for the interface, e.g. `eth0`. */
  interface: string;
  /** Optional IPv4 label (`eth0:vip`); must start with the interface name. */
  label?: string;
  /** Announcements sent right after promote, 1..100 (default 3). */
  announceCount: number;
  /** Refresh of the announcement while master, ms (default 10000; 0 = none). */
  announceIntervalMs: number;
  /** How often the address is compared with the role, ms (default 2000). */
  reconcileMs: number;
  /** Absolute paths resolved by check-config: `ip`, and `arping` (IPv4) or `na6` (IPv6). */
  ipProgram: string;
  announceProgram: string;
}

/** Cloud providers whose floating IPs the `floating_ip` driver moves. */
export type FloatingIpProvider = "digitalocean" | "hetzner" | "aws";

/** Floating IP driver: assigns a cloud floating IP to this machine while master. */
export interface FloatingIpDriverConfig {
  type: "floating_ip";
  /** Unique driver id (default `floating_ip-<n>`). */
  id: string;
  provider: FloatingIpProvider;
  /** The floating IP address. */
  ip: string;
  /** Hetzner's numeric id of the floating IP (required there). */
  floatingIpId?: string;
  /** This machine's id at the provider; else read from `metadataUrl`. */
  machineId?: string;
  /** Token (DigitalOcean, Hetzner) or `key id\nsecret[\nsession token]` (AWS), read from `token_file`. */
  token: string;
  tokenFile: string;
  /** AWS region, e.g. `eu-west-1` (AWS only). */
  region?: string;
  /** API base URL (default: the provider's public endpoint). */
  apiUrl: string;
  /** Metadata service base URL (default `http://169.254.169.254`). */
  metadataUrl: string;
  /** Per request, ms (default 10000). */
  timeoutMs: number;
  /** Attempts per call beyond the first (default 5). */
  retries: number;
  /** Longest wait for the provider to report the assignment, ms (default 60000). */
  readbackMs: number;
  /** How often the assignment is compared with the role while master, ms (default 10000). */
  reconcileMs: number;
}

export type DriverConfig =
  | BashDriverConfig
  | WebhookDriverConfig
  | ExternalDriverConfig
  | VipDriverConfig
  | FloatingIpDriverConfig;

/** A health check (keepalived track_script, HAProxy rise/fall). */
export interface CheckConfig {
  /** Unique among checks, `[a-z0-9._-]+`; default `check-N` (position from 0). */
  id: string;
  command: string;
  args: string[];
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

/** Logging settings (`log:`). */
export interface LogConfig {
  format: "text" | "json";
  /** Same syntax as DEBUG; merged with the environment's. */
  debug: string;
}

/** The whole file. */
export interface Config {
  /** Absolute path the config was read from ("" when built in memory). */
  path: string;
  node: NodeConfig;
  cluster: ClusterConfig;
  stateDir: string;
  drivers: DriverConfig[];
  checks: CheckConfig[];
  log: LogConfig;
}

/** One problem found in a config file, located by key path and position. */
export interface ConfigIssue {
  /** Key path such as `cluster.peers[1].url`; "" for the whole file. */
  path: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  /** 1-based column of the offending node, when known. */
  column?: number;
  /** Sentence-case text saying what is wrong and what to do. */
  message: string;
  /** The file as the user named it, for messages. */
  file: string;
}

/** Outcome of loading a config: a usable `Config`, or every error at once. */
export type ConfigResult =
  | { ok: true; config: Config; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

/**
 * What a look at a program file (script or check command) found, without
 * reading it: whether it is a regular file, its POSIX mode and owner (null on
 * Windows), or why it cannot be looked at.
 */
export type FileInspection =
  | { ok: true; isFile: boolean; mode: number | null; uid: number | null }
  | { ok: false; message: string };

/** What a file-reading callback found: the text and POSIX mode (null on Windows), or why not. */
export type FileRead =
  | { ok: true; text: string; mode: number | null }
  | { ok: false; message: string };
