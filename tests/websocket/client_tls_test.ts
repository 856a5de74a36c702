/**
 * The mesh client's `wss:` path: a real TLS server (`Deno.serve` with a
 * certificate made by openssl for 127.0.0.1) behind which a peer may sit, e.g.
 * a TLS-terminating proxy. The client must verify the certificate (refusing
 * an unknown issuer) and then carry messages both ways.
 */

import assert from "node:assert/strict";
import { WsClient } from "../../src/websocket/client.ts";

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

async function openssl(args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** A test CA and a server certificate it signed for 127.0.0.1 (openssl(1)). */
async function makeCertificate(): Promise<
  { ca: string; cert: string; key: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "clustd-tls-" });
  try {
    const words = (text: string) => text.split(" ");
    await openssl([
      ...words("req -x509 -nodes -days 1 -subj /CN=clustd-test-ca"),
      ...EC_KEY,
      ...words(`-keyout ${dir}/ca.key -out ${dir}/ca.pem`),
    ]);
    await openssl([
      ...words("req -nodes -subj /CN=127.0.0.1"),
      ...EC_KEY,
      ...words(`-keyout ${dir}/key.pem -out ${dir}/leaf.csr`),
    ]);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    await openssl(words(
      `x509 -req -in ${dir}/leaf.csr -CA ${dir}/ca.pem -CAkey ${dir}/ca.key ` +
        `-set_serial 1 -days 1 -extfile ${dir}/ext.cnf -out ${dir}/cert.pem`,
    ));
    return {
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Resolves when `ws` is closed (at once if it already is). */
function closedOf(ws: WsClient): Promise<void> {
  if (ws.readyState === WsClient.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => ws.onclose = () => resolve());
}

function serveTlsEcho(cert: string, key: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(`echo:${event.data}`);
      return response;
    },
  );
  return {
    url: `wss://127.0.0.1:${server.addr.port}/clustd/v1/peer`,
    close: () => server.shutdown(),
  };
}

Deno.test("the client speaks wss: to a TLS server it trusts", async () => {
  const { ca, cert, key } = await makeCertificate();
  const server = serveTlsEcho(cert, key);
  const ws = new WsClient(server.url, { caCerts: [ca] });
  try {
    const reply = await new Promise<unknown>((resolve, reject) => {
      ws.onopen = () => ws.send("ping");
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error("client error"));
      ws.onclose = (event) => reject(new Error(`closed ${event.code}`));
    });
    assert.equal(reply, "echo:ping");
  } finally {
    const closed = closedOf(ws);
    ws.close();
    await closed;
    await server.close();
  }
});

Deno.test("the client refuses a TLS server whose certificate it cannot verify", async () => {
  const { cert, key } = await makeCertificate();
  const server = serveTlsEcho(cert, key);
  const ws = new WsClient(server.url);
  try {
    const outcome = await new Promise<string>((resolve) => {
      ws.onopen = () => resolve("opened");
      ws.onclose = (event) => resolve(`closed ${event.code}`);
    });
    assert.match(outcome, /^closed /);
  } finally {
    const closed = closedOf(ws);
    ws.close();
    await closed;
    await server.close();
  }
});
