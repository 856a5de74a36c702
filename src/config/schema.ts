/**
 * The configuration schema as data: which keys each section accepts, their
 * defaults and their ranges. `validate.ts` enforces it, `config.example.yml`
 * documents it, and `init` writes from it. No I/O and no validation logic here.
 */

/** Where the config is read from when neither `--config` nor `$CLUSTD_CONFIG` is set. */
export const DEFAULT_CONFIG_PATH = "config.yml";

/** Environment variable naming the config file. */
export const CONFIG_ENV = "CLUSTD_CONFIG";

/** Node and peer ids: lower-case letters, digits, `.`, `_`, `-`. */
export const ID_PATTERN = /^[a-z0-9._-]+$/;

/** Longest accepted id; ids appear in logs, metrics labels and frames. */
export const ID_LENGTH_MAX = 64;

/** Fewest decoded bytes a cluster secret, driver token or webhook secret may have. */
export const SECRET_BYTES_MIN = 32;

/** Clock-rate drift the lease must tolerate (DESIGN §1: ρ = 1%). */
export const CLOCK_DRIFT_RATE = 0.01;

/** An inclusive integer range with its default. */
export interface IntegerRule {
  min: number;
  max: number;
  default: number;
}

/** Integer keys with fixed defaults. Dependent defaults are computed in validate.ts. */
export const INTEGER_RULES = {
  priority: { min: 0, max: 255, default: 100 },
  heartbeatMs: { min: 10, max: 60_000, default: 1500 },
  electionTimeoutMs: { min: 20, max: 600_000, default: 3000 },
  leaseMs: { min: 1, max: 600_000, default: 2700 },
  rankDelayMs: { min: 0, max: 60_000, default: 100 },
  minHoldMs: { min: 0, max: 3_600_000, default: 3000 },
  preemptDelayMs: { min: 0, max: 86_400_000, default: 5000 },
  handoverDrainMs: { min: 0, max: 600_000, default: 0 },
  bashTimeoutMs: { min: 1, max: 3_600_000, default: 30_000 },
  webhookTimeoutMs: { min: 1, max: 600_000, default: 5000 },
  webhookRetries: { min: 0, max: 100, default: 5 },
  checkIntervalMs: { min: 10, max: 86_400_000, default: 2000 },
  checkTimeoutMs: { min: 1, max: 3_600_000, default: 10_000 },
  checkRise: { min: 1, max: 1000, default: 2 },
  checkFall: { min: 1, max: 1000, default: 3 },
  vipAnnounceCount: { min: 1, max: 100, default: 3 },
  vipAnnounceIntervalMs: { min: 0, max: 3_600_000, default: 10_000 },
  vipReconcileMs: { min: 10, max: 3_600_000, default: 2000 },
  floatingIpTimeoutMs: { min: 1, max: 600_000, default: 10_000 },
  floatingIpRetries: { min: 0, max: 100, default: 5 },
  floatingIpReadbackMs: { min: 1, max: 3_600_000, default: 60_000 },
  floatingIpReconcileMs: { min: 10, max: 3_600_000, default: 10_000 },
} as const satisfies Record<string, IntegerRule>;

/** Largest default Δ (rank delay step), DESIGN §1. */
export const RANK_DELAY_MS_MAX_DEFAULT = 100;

/** Default lease as a fraction of the election timeout. */
export const LEASE_FRACTION_DEFAULT = 0.9;

/** Default priority of a witness (never master). */
export const WITNESS_PRIORITY = 0;

/** Default `state_dir`. */
export const STATE_DIR_DEFAULT = "/var/lib/clustd";

/** Default `cluster.status_allow`: loopback only. */
export const STATUS_ALLOW_DEFAULT: readonly string[] = [
  "127.0.0.0/8",
  "::1/128",
];

/** Accepted keys per section, in the order the example documents them. */
export const KEYS = {
  root: ["node", "cluster", "state_dir", "drivers", "checks", "log"],
  node: ["id", "listen", "advertise", "role", "priority"],
  cluster: [
    "secret",
    "secret_file",
    "peers",
    "heartbeat_ms",
    "election_timeout_ms",
    "lease_ms",
    "rank_delay_ms",
    "min_hold_ms",
    "preempt",
    "preempt_delay_ms",
    "handover_drain_ms",
    "two_node",
    "driver_token_file",
    "status_allow",
    "backend",
    "etcd",
  ],
  etcd: [
    "endpoints",
    "prefix",
    "ttl_ms",
    "ca_file",
    "cert_file",
    "key_file",
    "username",
    "password_file",
  ],
  peer: ["id", "url", "role", "priority"],
  log: ["format", "debug"],
  bash: ["type", "id", "promote", "demote", "pre_promote", "timeout_ms"],
  webhook: ["type", "id", "url", "secret", "timeout_ms", "retries"],
  external: ["type", "id"],
  vip: [
    "type",
    "id",
    "address",
    "interface",
    "label",
    "announce_count",
    "announce_interval_ms",
    "reconcile_ms",
  ],
  floating_ip: [
    "type",
    "id",
    "provider",
    "ip",
    "floating_ip_id",
    "machine_id",
    "token_file",
    "region",
    "api_url",
    "metadata_url",
    "timeout_ms",
    "retries",
    "readback_ms",
    "reconcile_ms",
  ],
  check: ["id", "command", "args", "interval_ms", "timeout_ms", "rise", "fall"],
} as const;

/** Driver types and the section of `KEYS` describing each. */
export const DRIVER_TYPES = [
  "bash",
  "webhook",
  "external",
  "vip",
  "floating_ip",
] as const;

/** Providers accepted in a floating_ip driver's `provider`. */
export const FLOATING_IP_PROVIDERS = [
  "digitalocean",
  "hetzner",
  "aws",
] as const;

/** Where the programs a vip driver runs are looked for, first found wins. */
export const VIP_PROGRAMS = {
  ip: {
    paths: ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"],
    package: "iproute2",
  },
  arping: {
    paths: ["/usr/bin/arping", "/usr/sbin/arping"],
    package: "iputils-arping",
  },
  na6: { paths: ["/usr/sbin/na6", "/usr/bin/na6"], package: "ipv6toolkit" },
} as const;

/** Node roles accepted in `node.role` and `cluster.peers[].role`. */
export const ROLES = ["voter", "witness"] as const;

/** Log formats accepted in `log.format` and `--log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;

/** Election backends accepted in `cluster.backend`. */
export const BACKENDS = ["mesh", "etcd"] as const;

/** `cluster.etcd.ttl_ms`: the etcd lease TTL, whole seconds. */
export const ETCD_TTL_MS = { min: 1000, max: 60_000, default: 3000 } as const;
