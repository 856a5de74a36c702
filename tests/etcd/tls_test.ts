/**
 * The etcd client over TLS against a real etcd member that requires client
 * certificates: a CA, a server certificate for the member's address and a
 * client certificate made with openssl in a temp dir.
 */
import assert from "node:assert/strict";
import { EtcdClient, EtcdError } from "../../src/etcd/client.ts";
import { killChild, runCommand, spawnLogged, waitFor } from "../_process.ts";
import { etcdInstalled } from "./_etcd_cluster.ts";

async function openssl(dir: string, args: string[]): Promise<void> {
  const result = await runCommand(["openssl", ...args], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
}

/** CA, server (SAN = `ip`) and client certificates in `dir`. */
async function makeCertificates(dir: string, ip: string): Promise<void> {
  const days = ["-days", "2"];
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=test-ca",
    ...days,
  ]);
  for (
    const [name, extra] of [["server", `subjectAltName=IP:${ip}`], [
      "client",
      "extendedKeyUsage=clientAuth",
    ]] as const
  ) {
    await openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ]);
    await Deno.writeTextFile(`${dir}/${name}.ext`, `${extra}\n`);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-extfile",
      `${name}.ext`,
      ...days,
    ]);
  }
  // A second CA the member's certificate does not chain to.
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "other.key",
    "-out",
    "other.pem",
    "-subj",
    "/CN=other-ca",
    ...days,
  ]);
}

Deno.test({
  name:
    "etcd client: TLS with a CA file and a client certificate on a real etcd",
  ignore: !etcdInstalled(),
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "clustd-etcd-tls-" });
    const ip = `127.15.${1 + Math.floor(Math.random() * 250)}.7`;
    let child: Deno.ChildProcess | null = null;
    try {
      await makeCertificates(dir, ip);
      child = spawnLogged([
        "/usr/bin/etcd",
        "--name=t1",
        `--data-dir=${dir}/data`,
        `--listen-client-urls=https://${ip}:2379`,
        `--advertise-client-urls=https://${ip}:2379`,
        `--listen-peer-urls=http://${ip}:2380`,
        `--initial-advertise-peer-urls=http://${ip}:2380`,
        `--initial-cluster=t1=http://${ip}:2380`,
        `--cert-file=${dir}/server.pem`,
        `--key-file=${dir}/server.key`,
        `--trusted-ca-file=${dir}/ca.pem`,
        "--client-cert-auth",
        "--log-level=warn",
        "--logger=zap",
      ], `${dir}/etcd.log`);
      const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
      const client = new EtcdClient({
        endpoints: [`https://${ip}:2379`],
        caCert: read("ca.pem"),
        cert: read("client.pem"),
        key: read("client.key"),
      });
      const ready = await waitFor(async () => {
        try {
          await client.put("/tls", "yes", { timeoutMs: 500 });
          return true;
        } catch (_error: unknown) {
          return false; // Not serving yet.
        }
      }, 15_000);
      assert.ok(ready, Deno.readTextFileSync(`${dir}/etcd.log`).slice(-1000));
      assert.equal((await client.range("/tls")).kvs[0]?.value, "yes");
      client.close();

      const noCert = new EtcdClient({
        endpoints: [`https://${ip}:2379`],
        caCert: read("ca.pem"),
      });
      await assert.rejects(
        () => noCert.range("/tls", { timeoutMs: 1000 }),
        EtcdError,
      );
      noCert.close();
      const wrongCa = new EtcdClient({
        endpoints: [`https://${ip}:2379`],
        caCert: read("other.pem"),
        cert: read("client.pem"),
        key: read("client.key"),
      });
      await assert.rejects(
        () => wrongCa.range("/tls", { timeoutMs: 1000 }),
        EtcdError,
      );
      wrongCa.close();
    } finally {
      if (child !== null) await killChild(child, 5000);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
