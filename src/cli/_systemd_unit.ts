/**
 * The systemd unit clustd installs (`clustd systemd-unit`, cloud-init).
 * Hardened, but drivers still work: they run as root and may need to change
 * addresses (CAP_NET_ADMIN), call systemctl and reach the network.
 */

/** Where things live on a server installed from cloud-init. */
export const INSTALL_PATHS = {
  binary: "/usr/local/bin/clustd",
  configDir: "/etc/clustd",
  config: "/etc/clustd/config.yml",
  secret: "/etc/clustd/secret",
  driverToken: "/etc/clustd/driver-token",
  hooksDir: "/etc/clustd/hooks",
  stateDir: "/var/lib/clustd",
  unit: "/etc/systemd/system/clustd.service",
  secretsPathUnit: "/etc/systemd/system/clustd-secrets.path",
} as const;

/**
 * A path unit that starts clustd once the cluster secret appears, for
 * machines whose user-data carries no secrets (`cloud-init --without-secrets`).
 */
export function secretsPathUnit(): string {
  return `[Unit]
Description=Start clustd once /etc/clustd/secret is installed

[Path]
PathExists=${INSTALL_PATHS.secret}
Unit=clustd.service

[Install]
WantedBy=multi-user.target
`;
}

/** The unit file text. */
export function systemdUnit(
  options: { binary?: string; config?: string } = {},
): string {
  const binary = options.binary ?? INSTALL_PATHS.binary;
  const config = options.config ?? INSTALL_PATHS.config;
  return `[Unit]
Description=clustd failover agent
Documentation=https://github.com/clustd/clustd
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${binary} run --config ${config}
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM makes a master hand over before it exits; give its demote hooks time.
KillSignal=SIGTERM
TimeoutStopSec=90s
Restart=on-failure
RestartSec=1s
StateDirectory=clustd
StateDirectoryMode=0700
ConfigurationDirectory=clustd
LimitNOFILE=65536
# Hardening that still lets hooks move addresses and manage services.
NoNewPrivileges=false
PrivateTmp=true
ProtectHome=read-only
ProtectKernelModules=true
ProtectControlGroups=true
ProtectClock=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
RestrictNamespaces=true
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}
