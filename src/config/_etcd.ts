/**
 * `cluster.backend` and `cluster.etcd:` for validate.ts: endpoints, key
 * prefix, lease TTL, TLS files and credentials (read through the callback,
 * never directly). With `backend: etcd`, etcd holds the election, so the
 * mesh's quorum-shape rules do not apply (see _membership.ts).
 */

import { checkUrl } from "./_net.ts";
import { quote, type Section } from "./_reader.ts";
import type { ReadFile, Resolve } from "./_cluster.ts";
import { BACKENDS, ETCD_TTL_MS, KEYS } from "./schema.ts";
import type { EtcdConfig } from "./types.ts";

/** Key prefixes: absolute, no trailing slash, plain characters. */
const PREFIX_PATTERN = /^(\/[A-Za-z0-9._-]+)+$/;

/** Reads `backend` and, with `etcd`, the `etcd` section; null means mesh. */
export function readBackend(
  cluster: Section,
  resolve: Resolve,
  readFile: ReadFile,
): { backend: "mesh" | "etcd"; etcd?: EtcdConfig } {
  const backend = cluster.choice("backend", BACKENDS, "mesh");
  if (backend === "mesh") {
    if (cluster.has("etcd")) {
      cluster.error(
        "etcd",
        'The "etcd" section is used only with "backend: etcd": set that, or remove the section',
      );
    }
    return { backend };
  }
  if (!cluster.has("etcd")) {
    cluster.missing(
      "etcd",
      'with "backend: etcd", say where etcd is: etcd: { endpoints: [...], prefix: /clustd/NAME }',
    );
    return { backend };
  }
  const section = cluster.reader.section(
    cluster.pathOf("etcd"),
    cluster.value("etcd"),
    KEYS.etcd,
  );
  if (section === null) return { backend };
  return { backend, etcd: readEtcd(section, resolve, readFile) };
}

function readEtcd(
  section: Section,
  resolve: Resolve,
  readFile: ReadFile,
): EtcdConfig {
  const endpoints = section.stringList("endpoints") ?? [];
  if (!section.has("endpoints")) {
    section.missing(
      "endpoints",
      'list the etcd client URLs, e.g. ["https://10.0.0.5:2379"]',
    );
  } else if (endpoints.length === 0 && !section.invalid("endpoints")) {
    section.error("endpoints", "Must list at least one etcd client URL");
  }
  for (const url of endpoints) {
    const problem = checkUrl(url, ["http", "https"], "https://10.0.0.5:2379");
    if (problem !== null) section.error("endpoints", problem);
  }
  const prefix = section.string("prefix");
  if (prefix === undefined && !section.invalid("prefix")) {
    section.missing("prefix", 'one key prefix per cluster, e.g. "/clustd/web"');
  } else if (prefix !== undefined && !PREFIX_PATTERN.test(prefix)) {
    section.error(
      "prefix",
      `${
        quote(prefix)
      } must start with "/", have no trailing "/" and use only letters, digits, ".", "_", "-", e.g. "/clustd/web"`,
    );
  }
  const ttlMs = section.integer("ttl_ms", ETCD_TTL_MS, ETCD_TTL_MS.default);
  if (!section.invalid("ttl_ms") && ttlMs % 1000 !== 0) {
    section.error(
      "ttl_ms",
      `${
        quote(ttlMs)
      } must be whole seconds (etcd counts lease TTLs in seconds), e.g. "${
        Math.max(1000, Math.round(ttlMs / 1000) * 1000)
      }"`,
    );
  }
  const etcd: EtcdConfig = {
    endpoints,
    prefix: prefix ?? "",
    ttlMs,
  };
  const file = (key: string): string | undefined => {
    const name = section.string(key);
    if (name === undefined) return undefined;
    const path = resolve(name);
    const read = readFile(path);
    if (!read.ok) {
      section.error(key, `Cannot read ${quote(path)}: ${read.message}`);
      return undefined;
    }
    return read.text;
  };
  const ca = file("ca_file");
  if (ca !== undefined) etcd.caCert = ca;
  const cert = file("cert_file");
  const key = file("key_file");
  if ((section.has("cert_file")) !== (section.has("key_file"))) {
    section.error(
      section.has("cert_file") ? "cert_file" : "key_file",
      'A client certificate needs both "cert_file" and "key_file": set both or neither',
    );
  } else if (cert !== undefined && key !== undefined) {
    etcd.cert = cert;
    etcd.key = key;
  }
  const username = section.string("username");
  const password = file("password_file");
  if ((username !== undefined) !== section.has("password_file")) {
    section.error(
      username !== undefined ? "username" : "password_file",
      'etcd authentication needs both "username" and "password_file": set both or neither',
    );
  } else if (username !== undefined && password !== undefined) {
    etcd.username = username;
    etcd.password = password.replace(/\r?\n$/, "");
  }
  for (const url of endpoints) {
    if (
      url.startsWith("http://") &&
      (etcd.cert !== undefined || etcd.username !== undefined)
    ) {
      section.warn(
        "endpoints",
        `${
          quote(url)
        } is plain HTTP, so credentials and data cross the network unencrypted: use https://`,
      );
      break;
    }
  }
  return etcd;
}
