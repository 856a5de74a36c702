/**
 * Where the built-in driver and check Workers are created, and with exactly
 * which permissions: the one file to audit for the sandbox. Each Worker gets
 * only what its config names (DESIGN §4); everything else is denied,
 * including `read` and `import` (a Worker's static imports are loaded by the
 * runtime, not through the Worker's own permissions).
 *
 * - bash:    `run` = its promote/demote/pre_promote scripts + the kill helper
 * - check:   `run` = its command + the kill helper
 * - webhook: `net` = `host:port` of its URL
 * - sandbox (the default: one Worker for all drivers and checks): `run` and
 *   `net` = the unions of the lists above; see `sandboxPermissions`
 * - vip + floating_ip (one Worker per driver host): `run` = the `ip` and
 *   `arping`/`na6` programs check-config resolved; `net` = `host:port` of
 *   each provider API URL, and of the metadata URL when no `machine_id` is set
 *
 * The kill helper is `kill(1)`: `Deno.kill()` would need unrestricted `run`
 * (see drivers/_run_process.ts). Worker URLs are static `new URL(...)`
 * literals so `deno compile` can bundle them. A Worker cannot get more than
 * its parent has: the daemon keeps `run` and `net` so that reloads and
 * respawns can start Workers at any time.
 */

import type {
  BashDriverConfig,
  CheckConfig,
  DriverConfig,
  FloatingIpDriverConfig,
  VipDriverConfig,
  WebhookDriverConfig,
} from "../config/types.ts";

/** Where `kill(1)` usually lives; the first that exists is used. */
const KILL_PROGRAM_CANDIDATES = ["/usr/bin/kill", "/bin/kill"] as const;

/** Every permission denied: the base each Worker's grant is added to. */
const DENY_ALL = {
  read: false,
  write: false,
  net: false,
  env: false,
  run: false,
  ffi: false,
  sys: false,
  import: false,
} as const satisfies Deno.PermissionOptionsObject;

/** Finds `kill(1)`; null when none exists (timeouts then kill the leader only). */
export function findKillProgram(): string | null {
  for (const candidate of KILL_PROGRAM_CANDIDATES) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch (_error: unknown) {
      // Not there (or unreadable): try the next location.
    }
  }
  return null;
}

/** Programs a bash driver names, in config order. */
export function bashScripts(config: BashDriverConfig): string[] {
  const scripts = [config.promote, config.demote, config.prePromote];
  return [...new Set(scripts.filter((s): s is string => s !== undefined))];
}

/** Permissions of a bash driver's Worker: run its scripts (and kill), nothing else. */
export function bashWorkerPermissions(
  config: BashDriverConfig,
  killPath: string | null,
): Deno.PermissionOptionsObject {
  const scripts = bashScripts(config);
  if (scripts.length === 0) return { ...DENY_ALL };
  return {
    ...DENY_ALL,
    run: killPath === null ? scripts : [...scripts, killPath],
  };
}

/** Permissions of a check's Worker: run its command (and kill), nothing else. */
export function checkWorkerPermissions(
  config: CheckConfig,
  killPath: string | null,
): Deno.PermissionOptionsObject {
  const run = killPath === null ? [config.command] : [config.command, killPath];
  return { ...DENY_ALL, run };
}

/** `host:port` of a URL, with the scheme's default port made explicit. */
export function netAddress(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== ""
    ? parsed.port
    : parsed.protocol === "https:"
    ? "443"
    : "80";
  return `${parsed.hostname}:${port}`;
}

/** Permissions of a webhook's Worker: reach its URL's host and port, nothing else. */
export function webhookWorkerPermissions(
  config: WebhookDriverConfig,
): Deno.PermissionOptionsObject {
  return { ...DENY_ALL, net: [netAddress(config.url)] };
}

function workerOptions(
  permissions: Deno.PermissionOptionsObject,
): WorkerOptions {
  // `deno.permissions` needs --unstable-worker-options (deno.json "unstable").
  return { type: "module", deno: { permissions } } as WorkerOptions;
}

/** Starts a bash driver Worker with `bashWorkerPermissions`. */
export function spawnBashWorker(
  config: BashDriverConfig,
  killPath: string | null,
): Worker {
  return new Worker(
    new URL("../../drivers/bash_worker.ts", import.meta.url).href,
    workerOptions(bashWorkerPermissions(config, killPath)),
  );
}

/** Starts a webhook driver Worker with `webhookWorkerPermissions`. */
export function spawnWebhookWorker(config: WebhookDriverConfig): Worker {
  return new Worker(
    new URL("../../drivers/webhook_worker.ts", import.meta.url).href,
    workerOptions(webhookWorkerPermissions(config)),
  );
}

/** Starts a check Worker with `checkWorkerPermissions`. */
export function spawnCheckWorker(
  config: CheckConfig,
  killPath: string | null,
): Worker {
  return new Worker(
    new URL("../../drivers/check_worker.ts", import.meta.url).href,
    workerOptions(checkWorkerPermissions(config, killPath)),
  );
}

/** A vip or floating_ip driver. */
export type ResourceDriverConfig = VipDriverConfig | FloatingIpDriverConfig;

/** Permissions of the resource Worker: the programs and hosts its drivers name. */
export function resourceWorkerPermissions(
  drivers: ResourceDriverConfig[],
): Deno.PermissionOptionsObject {
  const run = new Set<string>();
  const net = new Set<string>();
  for (const driver of drivers) {
    if (driver.type === "vip") {
      run.add(driver.ipProgram);
      run.add(driver.announceProgram);
    } else {
      net.add(netAddress(driver.apiUrl));
      if (driver.machineId === undefined) {
        net.add(netAddress(driver.metadataUrl));
      }
    }
  }
  return {
    ...DENY_ALL,
    run: run.size === 0 ? false : [...run],
    net: net.size === 0 ? false : [...net],
  };
}

/** Starts the resource Worker with `resourceWorkerPermissions`. */
export function spawnResourceWorker(drivers: ResourceDriverConfig[]): Worker {
  return new Worker(
    new URL("../../drivers/resource_worker.ts", import.meta.url).href,
    workerOptions(resourceWorkerPermissions(drivers)),
  );
}

/** The programs and hosts a list of grants names, merged. */
function union(
  grants: Deno.PermissionOptionsObject[],
): Deno.PermissionOptionsObject {
  const run = new Set<string>();
  const net = new Set<string>();
  for (const grant of grants) {
    if (Array.isArray(grant.run)) grant.run.forEach((p) => run.add(String(p)));
    if (Array.isArray(grant.net)) grant.net.forEach((h) => net.add(String(h)));
  }
  return {
    ...DENY_ALL,
    run: run.size === 0 ? false : [...run].sort(),
    net: net.size === 0 ? false : [...net].sort(),
  };
}

/**
 * Permissions of the shared sandbox Worker: `run` = every program the
 * drivers and checks name (plus the kill helper), `net` = every host they
 * name; the union of what their own Workers would get, nothing more.
 */
export function sandboxPermissions(
  drivers: DriverConfig[],
  checks: CheckConfig[],
  killPath: string | null,
): Deno.PermissionOptionsObject {
  const resources = drivers.filter((d): d is ResourceDriverConfig =>
    d.type === "vip" || d.type === "floating_ip"
  );
  return union([
    ...drivers.map((driver) =>
      driver.type === "bash"
        ? bashWorkerPermissions(driver, killPath)
        : driver.type === "webhook"
        ? webhookWorkerPermissions(driver)
        : DENY_ALL
    ),
    ...checks.map((check) => checkWorkerPermissions(check, killPath)),
    resourceWorkerPermissions(resources),
  ]);
}

/** Starts the shared sandbox Worker with the given (union) permissions. */
export function spawnSandboxWorker(
  permissions: Deno.PermissionOptionsObject,
): Worker {
  return new Worker(
    new URL("../../drivers/sandbox_worker.ts", import.meta.url).href,
    workerOptions(permissions),
  );
}
