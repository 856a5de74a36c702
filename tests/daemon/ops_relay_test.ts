import assert from "node:assert/strict";
import { OpsRelay } from "../../src/daemon/ops_relay.ts";

/** Two relays wired back to back (a <-> b), delivering synchronously. */
function pair(options: { silent?: boolean } = {}) {
  const relays = new Map<string, OpsRelay>();
  const pauses: unknown[] = [];
  for (const [self, other] of [["a", "b"], ["b", "a"]] as const) {
    relays.set(
      self,
      new OpsRelay({
        send: (peer, message) => {
          if (peer !== other) return false;
          if (options.silent === true && self === "b") return true;
          queueMicrotask(() => relays.get(other)!.handle(self, message));
          return true;
        },
        serve: (peer, request) =>
          Promise.resolve({ ok: true, from: peer, op: request.op }),
        onPause: (_peer, state) => pauses.push(state),
      }),
    );
  }
  return { a: relays.get("a")!, b: relays.get("b")!, pauses };
}

Deno.test("OpsRelay asks a peer and gets its answer", async () => {
  const { a } = pair();
  const answer = await a.ask("b", { op: "status" }, 1000);
  assert.deepEqual(
    { ok: answer["ok"], from: answer["from"], op: answer["op"] },
    { ok: true, from: "a", op: "status" },
  );
});

Deno.test("OpsRelay names an unconnected or silent peer", async () => {
  const { a } = pair({ silent: true });
  await assert.rejects(
    a.ask("zz", { op: "history" }, 1000),
    /zz is not connected/,
  );
  await assert.rejects(
    a.ask("b", { op: "history" }, 50),
    /no answer from b within 50 ms/,
  );
  a.close();
});

Deno.test("OpsRelay passes pause gossip on, ignores non-operator messages and answers malformed requests", async () => {
  const { a, b, pauses } = pair();
  assert.equal(a.handle("b", { type: "heartbeat", term: 1 }), false);
  assert.equal(a.handle("b", "text"), false);
  a.sendPause("b", { paused: true });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(pauses, [{ paused: true }]);
  // A request without a valid op gets a refusal, not silence.
  const sent: Record<string, unknown>[] = [];
  const lone = new OpsRelay({
    send: (_peer, message) => {
      sent.push(message);
      return true;
    },
    serve: () => Promise.resolve({ ok: true }),
    onPause: () => {},
  });
  assert.equal(
    lone.handle("b", { type: "ops_req", id: "x", op: "nope" }),
    true,
  );
  assert.deepEqual(sent, [{
    type: "ops_res",
    id: "x",
    ok: false,
    message: "malformed operator request",
  }]);
  b.close();
});
