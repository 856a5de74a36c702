/**
 * Rules that keep each secret with the one party that needs it, for
 * validate.ts: a config holding an inline secret must not be readable by
 * group or others, the driver token and a webhook's own secret must differ
 * from the cluster secret (a driver or a webhook receiver must never be able
 * to pose as a node). Never quotes a secret.
 */

import type { DriverEntry } from "./_drivers.ts";
import { quote, type Section } from "./_reader.ts";
import type { ClusterConfig } from "./types.ts";

/** Mode bits that let group or others read a file. */
export const MODE_EXPOSED_BITS = 0o077;

/** `0644`-style text of a POSIX mode. */
export function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** What the rules look at. */
export interface SecretRulesInput {
  /** The config file as named in messages. */
  file: string;
  /** POSIX mode of the config file; null when unknown (Windows, tests). */
  configMode: number | null;
  cluster: ClusterConfig;
  clusterSection: Section;
  drivers: DriverEntry[];
}

/** Reports every secret kept where another party could use it. */
export function checkSecretRules(input: SecretRulesInput): void {
  const { cluster, clusterSection, drivers } = input;
  const exposed = input.configMode !== null &&
    (input.configMode & MODE_EXPOSED_BITS) !== 0;
  const exposure = exposed
    ? `${
      quote(input.file)
    } holds this secret and is readable by group or others (mode ${
      modeText(input.configMode ?? 0)
    }): run "chmod 600 ${input.file}", or move the secret to a file of its own`
    : null;
  if (exposure !== null && cluster.secretSource === "secret") {
    clusterSection.error("secret", exposure);
  }
  const token = cluster.driverToken;
  if (
    token !== undefined && cluster.secret.length > 0 &&
    sameBytes(token, cluster.secret)
  ) {
    clusterSection.error(
      "driver_token_file",
      `The driver token is the cluster secret, so an external driver could pose as a node: make a new token with "clustd keygen > ${
        cluster.driverTokenFile ?? "FILE"
      }"`,
    );
  }
  for (const { driver, section } of drivers) {
    if (driver.type !== "webhook" || driver.secret === undefined) continue;
    if (exposure !== null) section.error("secret", exposure);
    if (cluster.secret.length > 0 && sameBytes(driver.secret, cluster.secret)) {
      section.error(
        "secret",
        'The webhook secret is the cluster secret, so its receiver could pose as a node: remove it (the default key is derived from the cluster secret, see "clustd derive-key webhook") or use "clustd keygen"',
      );
    }
  }
}
