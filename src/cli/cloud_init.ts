/** `clustd cloud-init`: prints cloud-init user-data that installs and starts clustd on a new machine. */

import type { Config } from "../config/types.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  parseCommandArgs,
  stringFlag,
  usageError,
} from "./_command.ts";
import { loadConfigOrReport } from "./_config.ts";
import { INSTALL_PATHS } from "./_systemd_unit.ts";
import {
  type EmbeddedFile,
  renderUserData,
  validateDownload,
} from "./_userdata.ts";

/** Hook scripts larger than this are not embedded (user-data has size limits). */
const HOOK_BYTES_MAX = 64 * 1024;

/** The bash driver scripts the config names, read from this machine. */
function readHooks(config: Config): EmbeddedFile[] | string {
  const paths = new Set<string>();
  for (const driver of config.drivers) {
    if (driver.type !== "bash") continue;
    for (const path of [driver.promote, driver.demote, driver.prePromote]) {
      if (path !== undefined) paths.add(path);
    }
  }
  const hooks: EmbeddedFile[] = [];
  for (const path of [...paths].sort()) {
    let content: string;
    try {
      content = Deno.readTextFileSync(path);
    } catch (error: unknown) {
      return `cannot read hook script "${path}" to embed it: ${
        error instanceof Error ? error.message : String(error)
      }`;
    }
    if (content.length > HOOK_BYTES_MAX) {
      return `hook script "${path}" is larger than ${HOOK_BYTES_MAX} bytes; install it another way`;
    }
    hooks.push({ path, content, mode: "0755" });
  }
  return hooks;
}

/** What the operator runs once the machine is up (`--without-secrets`). */
function copyInstructions(config: Config): string {
  // Written under a temporary name and renamed, so the path unit never
  // starts clustd on a half-written secret; umask 077 makes them 0600.
  const copy = (from: string, to: string) =>
    `  ssh root@HOST 'umask 077 && cat > ${to}.tmp && mv ${to}.tmp ${to}' < ${from}`;
  const lines = [
    "The user-data above holds no secrets. Once the machine is up, copy them",
    "over (the driver token first: the secret starts clustd):",
  ];
  if (config.cluster.driverTokenFile !== undefined) {
    lines.push(copy(config.cluster.driverTokenFile, INSTALL_PATHS.driverToken));
  }
  lines.push(
    copy(
      config.cluster.secretSource === "secret"
        ? "SECRET_FILE"
        : config.cluster.secretSource,
      INSTALL_PATHS.secret,
    ),
  );
  return lines.join("\n");
}

/** The `cloud-init` command. */
export const cloudInitCommand: Command = {
  name: "cloud-init",
  summary: "Print cloud-init user-data that installs and starts clustd",
  usage:
    `Usage: clustd cloud-init --config FILE --binary-url URL --sha256 HEX [--without-secrets]

Prints cloud-init user-data for a new machine: downloads the binary from URL
(verified against HEX), installs the config and the secret (mode 0600), the
bash hook scripts the config names (read from this machine, installed at the
same paths), and a systemd unit, then enables and starts clustd.

By default the cluster secret (and driver token) travel inside the user-data:
the cloud provider stores it, its API and console show it, and any process on
the machine can read it back from the metadata service. --without-secrets
leaves them out: the machine installs everything else and starts clustd once
you copy the secret over with ssh (the commands are printed on stderr).

Options:
  --binary-url URL   Where the machine downloads the clustd binary
  --sha256 HEX       SHA-256 of that binary
  --without-secrets  Keep the secret and the driver token out of the user-data`,
  async run(args) {
    const parsed = parseCommandArgs(this, args, {
      options: {
        "binary-url": { type: "string" },
        sha256: { type: "string" },
        "without-secrets": { type: "boolean" },
      },
    });
    if (typeof parsed === "number") return parsed;
    const binaryUrl = stringFlag(parsed.values, "binary-url");
    const sha256 = stringFlag(parsed.values, "sha256");
    if (binaryUrl === undefined || sha256 === undefined) {
      return usageError(this, "--binary-url and --sha256 are required");
    }
    const bad = validateDownload(binaryUrl, sha256);
    if (bad !== null) return usageError(this, bad);
    const config = await loadConfigOrReport(
      stringFlag(parsed.values, "config"),
    );
    if (typeof config === "number") return config;
    const hooks = readHooks(config);
    if (typeof hooks === "string") {
      console.error(`clustd: ${hooks}`);
      return EXIT_FAILURE;
    }
    const configText = Deno.readTextFileSync(config.path);
    const later = parsed.values["without-secrets"] === true;
    const inlineWebhook = config.drivers.findIndex((d) =>
      d.type === "webhook" && d.secret !== undefined
    );
    if (later && inlineWebhook >= 0) {
      return usageError(
        this,
        `drivers[${inlineWebhook}].secret would still travel in the user-data: remove it (webhooks then use the key "clustd derive-key webhook" prints) or drop --without-secrets`,
      );
    }
    const token = config.cluster.driverToken;
    const userData = await renderUserData({
      configText,
      secret: later ? null : config.cluster.secret.toBase64(),
      ...(token === undefined
        ? {}
        : { driverToken: later ? null : token.toBase64() }),
      binaryUrl,
      sha256,
      hooks,
    });
    console.log(userData.trimEnd());
    if (later) console.error(copyInstructions(config));
    return EXIT_OK;
  },
};
