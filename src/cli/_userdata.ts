/**
 * cloud-init user-data for a new droplet (`clustd cloud-init`): downloads the
 * binary and verifies its SHA-256, writes the config (mode 0600, secret moved
 * to a 0600 file), the hook scripts it names, a systemd unit, then enables
 * and starts clustd. Without secrets (`--without-secrets`) it writes neither
 * the secret nor the driver token and starts clustd only once the operator
 * has copied the secret over (a systemd path unit waits for it). Pure: the command reads the files, this only renders text. The npm
 * `yaml` package (for comment-preserving edits and output) is imported on
 * first use, so the daemon's module graph (`clustd run`) never loads it.
 */

import {
  INSTALL_PATHS,
  secretsPathUnit,
  systemdUnit,
} from "./_systemd_unit.ts";

/**
 * The npm `yaml` package, loaded on first use so that only this command pays
 * for Node compatibility (the literal specifier lets `deno compile` bundle it).
 */
function yamlPackage(): Promise<typeof import("yaml")> {
  return import("yaml");
}

/** A file to embed, as read from the operator's machine. */
export interface EmbeddedFile {
  path: string;
  content: string;
  mode: string;
}

/** Everything the user-data is made of. */
export interface UserDataInput {
  /** The node's config file text, as the operator wrote it. */
  configText: string;
  /** The cluster secret (base64 text); null: left out, copied over later. */
  secret: string | null;
  /** The external-driver token (base64 text) when configured; null: copied later. */
  driverToken?: string | null;
  binaryUrl: string;
  sha256: string;
  /** Hook scripts named by the config, to install at the same paths. */
  hooks: EmbeddedFile[];
}

/** Checks `--binary-url` and `--sha256`; returns an error sentence or null. */
export function validateDownload(
  binaryUrl: string,
  sha256: string,
): string | null {
  let url: URL;
  try {
    url = new URL(binaryUrl);
  } catch (_error: unknown) {
    return `--binary-url "${binaryUrl}" is not a URL.`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `--binary-url must be http:// or https://, got "${url.protocol}".`;
  }
  if (/['"\s\\`$]/.test(binaryUrl)) {
    return `--binary-url "${binaryUrl}" contains quotes, spaces or shell characters.`;
  }
  if (!/^[0-9a-f]{64}$/i.test(sha256)) {
    return `--sha256 must be 64 hexadecimal digits (the binary's SHA-256), got "${sha256}".`;
  }
  return null;
}

/** The config as installed: secrets point at files under /etc/clustd. */
export async function installedConfig(
  configText: string,
  hasDriverToken: boolean,
): Promise<string> {
  const { parseDocument } = await yamlPackage();
  const doc = parseDocument(configText);
  doc.deleteIn(["cluster", "secret"]);
  doc.setIn(["cluster", "secret_file"], INSTALL_PATHS.secret);
  if (hasDriverToken) {
    doc.setIn(["cluster", "driver_token_file"], INSTALL_PATHS.driverToken);
  }
  return doc.toString();
}

/** One root-owned file of `write_files`. */
function rootFile(path: string, permissions: string, content: string) {
  return { path, permissions, owner: "root:root", content };
}

/** Every file the machine gets; secrets only when they travel in the user-data. */
async function installedFiles(
  input: UserDataInput,
): Promise<Record<string, unknown>[]> {
  const config = await installedConfig(
    input.configText,
    input.driverToken !== undefined,
  );
  // The config may hold a webhook's own secret; clustd refuses such a
  // config when group or others can read it.
  const files = [rootFile(INSTALL_PATHS.config, "0600", config)];
  if (input.secret !== null) {
    files.push(
      rootFile(INSTALL_PATHS.secret, "0600", input.secret.trim() + "\n"),
    );
  }
  if (typeof input.driverToken === "string") {
    files.push(
      rootFile(
        INSTALL_PATHS.driverToken,
        "0600",
        input.driverToken.trim() + "\n",
      ),
    );
  }
  for (const hook of input.hooks) {
    files.push(rootFile(hook.path, hook.mode, hook.content));
  }
  files.push(rootFile(INSTALL_PATHS.unit, "0644", systemdUnit()));
  if (input.secret === null) {
    files.push(
      rootFile(INSTALL_PATHS.secretsPathUnit, "0644", secretsPathUnit()),
    );
  }
  return files;
}

/** Renders the `#cloud-config` document. */
export async function renderUserData(input: UserDataInput): Promise<string> {
  const { stringify } = await yamlPackage();
  const download = `${INSTALL_PATHS.binary}.download`;
  const fetchBinary = [
    "set -eu",
    `curl -fsSL --retry 5 --retry-delay 2 -o ${download} '${input.binaryUrl}'`,
    `echo '${input.sha256.toLowerCase()}  ${download}' | sha256sum -c -`,
    `chmod 0755 ${download}`,
    `mv ${download} ${INSTALL_PATHS.binary}`,
  ].join("; ");
  const start = input.secret === null
    ? [
      // No secret yet: clustd starts when the operator copies it over.
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "clustd.service"],
      ["systemctl", "enable", "--now", "clustd-secrets.path"],
    ]
    : [
      [INSTALL_PATHS.binary, "check-config", INSTALL_PATHS.config],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "clustd.service"],
    ];
  const document = {
    write_files: await installedFiles(input),
    runcmd: [
      ["sh", "-c", fetchBinary],
      ["mkdir", "-p", INSTALL_PATHS.stateDir],
      ["chmod", "0700", INSTALL_PATHS.stateDir],
      ...start,
    ],
  };
  return "#cloud-config\n" + stringify(document, { lineWidth: 0 });
}
