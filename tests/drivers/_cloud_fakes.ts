/**
 * Fakes of the three clouds' floating IP APIs, written from their public API
 * references, served on loopback only (127.0.0.x): the paths, the auth
 * header (Bearer token; AWS SigV4 recomputed from the request), the JSON or
 * XML bodies, asynchronous actions that stay in progress for a while, and
 * faults the tests script: answer with a status (429 + Retry-After, 500),
 * hang past the client's timeout, or delay before answering.
 *
 * The same fake also serves the provider's metadata endpoint.
 */

import { signRequest } from "../../drivers/cloud/sigv4.ts";

export type ProviderName = "digitalocean" | "hetzner" | "aws";

/** One request the fake received. */
export interface Seen {
  method: string;
  path: string;
  body: string;
  atMs: number;
}

/** What to do with a request matching `when`, once (consumed in order). */
export interface Fault {
  when: (request: Seen) => boolean;
  /** Answer with this status (and Retry-After seconds, if given). */
  status?: number;
  retryAfterS?: number;
  /** Wait this long before handling (or answering with `status`). */
  delayMs?: number;
}

export const TOKEN = "test-token-0123456789";
export const AWS_KEY_ID = "AKIDEXAMPLE";
export const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
export const REGION = "eu-west-1";
export const FLOATING_IP = "203.0.113.10";
export const HETZNER_IP_ID = "4711";
export const ALLOCATION_ID = "eipalloc-0abc";

/** A running fake cloud. */
export class FakeCloud {
  readonly provider: ProviderName;
  /** Machine id of the current holder (null: unassigned). */
  holder: string | null;
  /** Machine id the metadata endpoint reports. */
  readonly selfId: string;
  readonly seen: Seen[] = [];
  readonly faults: Fault[] = [];
  /** Polls an action stays in progress before it completes. */
  actionPolls = 2;
  /** Requests refused for a bad Authorization. */
  unauthorized = 0;
  readonly #actions = new Map<number, { target: string; polls: number }>();
  #nextAction = 100;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #startMs = performance.now();

  constructor(
    provider: ProviderName,
    options: { host?: string; selfId: string; holder?: string | null },
  ) {
    this.provider = provider;
    this.selfId = options.selfId;
    this.holder = options.holder ?? null;
    this.#server = Deno.serve(
      { hostname: options.host ?? "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  get baseUrl(): string {
    const { hostname, port } = this.#server.addr;
    return `http://${hostname}:${port}`;
  }

  /** The api_url a driver config names (Hetzner's includes /v1). */
  get apiUrl(): string {
    return this.provider === "hetzner" ? `${this.baseUrl}/v1` : this.baseUrl;
  }

  /** Assignment requests received (whatever their answer). */
  assignments(): Seen[] {
    return this.seen.filter((s) =>
      (s.method === "POST" && s.path.endsWith("/actions")) ||
      s.path.endsWith("/actions/assign") ||
      s.body.includes("Action=AssociateAddress")
    );
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    const seen: Seen = {
      method: request.method,
      path: url.pathname,
      body,
      atMs: performance.now() - this.#startMs,
    };
    this.seen.push(seen);
    const at = this.faults.findIndex((f) => f.when(seen));
    if (at >= 0) {
      const [fault] = this.faults.splice(at, 1);
      if (fault?.delayMs !== undefined) await delay(fault.delayMs);
      if (fault?.status !== undefined) {
        const headers: Record<string, string> = {};
        if (fault.retryAfterS !== undefined) {
          headers["Retry-After"] = String(fault.retryAfterS);
        }
        return new Response("fault", { status: fault.status, headers });
      }
    }
    const metadata = this.#metadata(request, url.pathname);
    if (metadata !== null) return metadata;
    if (!await this.#authorized(request, body)) {
      this.unauthorized++;
      return new Response("unauthorized", { status: 401 });
    }
    if (this.provider === "digitalocean") return this.#digitalocean(seen);
    if (this.provider === "hetzner") return this.#hetzner(seen);
    return this.#aws(body);
  }

  #metadata(request: Request, path: string): Response | null {
    if (path === "/metadata/v1/id" && this.provider === "digitalocean") {
      return new Response(this.selfId);
    }
    if (
      path === "/hetzner/v1/metadata/instance-id" &&
      this.provider === "hetzner"
    ) return new Response(this.selfId);
    if (this.provider !== "aws") return null;
    if (path === "/latest/api/token" && request.method === "PUT") {
      const ttl = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds");
      return ttl === null
        ? new Response("", { status: 400 })
        : new Response("imds-token");
    }
    if (path === "/latest/meta-data/instance-id") {
      return request.headers.get("x-aws-ec2-metadata-token") === "imds-token"
        ? new Response(this.selfId)
        : new Response("", { status: 401 });
    }
    return null;
  }

  async #authorized(request: Request, body: string): Promise<boolean> {
    const auth = request.headers.get("authorization") ?? "";
    if (this.provider !== "aws") return auth === `Bearer ${TOKEN}`;
    const date = request.headers.get("x-amz-date") ?? "";
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    if (when === null) return false;
    const [, y, mo, d, h, mi, s] = when;
    const expected = await signRequest(
      {
        method: request.method,
        url: request.url,
        headers: {
          "Content-Type": request.headers.get("content-type") ?? "",
        },
        body,
      },
      { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET },
      { region: REGION, service: "ec2" },
      new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`),
    );
    return auth === expected.Authorization;
  }

  #newAction(target: string): number {
    const id = this.#nextAction++;
    this.#actions.set(id, { target, polls: 0 });
    return id;
  }

  /** Polls an action; it completes (and moves the IP) after `actionPolls` polls. */
  #poll(id: number): "running" | "done" | null {
    const action = this.#actions.get(id);
    if (action === undefined) return null;
    if (action.polls >= this.actionPolls) {
      this.holder = action.target;
      return "done";
    }
    action.polls++;
    return "running";
  }

  #digitalocean(seen: Seen): Response {
    const base = `/v2/floating_ips/${FLOATING_IP}`;
    if (seen.method === "GET" && seen.path === base) {
      const droplet = this.holder === null ? null : { id: Number(this.holder) };
      return Response.json({ floating_ip: { ip: FLOATING_IP, droplet } });
    }
    if (seen.method === "POST" && seen.path === `${base}/actions`) {
      const request = JSON.parse(seen.body) as Record<string, unknown>;
      if (request.type !== "assign" || typeof request.droplet_id !== "number") {
        return Response.json({ id: "unprocessable_entity" }, { status: 422 });
      }
      const id = this.#newAction(String(request.droplet_id));
      return Response.json({
        action: { id, status: "in-progress", type: "assign_ip" },
      }, { status: 201 });
    }
    const match = new RegExp(`^${base}/actions/(\\d+)$`).exec(seen.path);
    if (seen.method === "GET" && match !== null) {
      const state = this.#poll(Number(match[1]));
      if (state === null) return new Response("", { status: 404 });
      const status = state === "done" ? "completed" : "in-progress";
      return Response.json({ action: { id: Number(match[1]), status } });
    }
    return new Response("not found", { status: 404 });
  }

  #hetzner(seen: Seen): Response {
    const base = `/v1/floating_ips/${HETZNER_IP_ID}`;
    if (seen.method === "GET" && seen.path === base) {
      const server = this.holder === null ? null : Number(this.holder);
      return Response.json({
        floating_ip: { id: Number(HETZNER_IP_ID), ip: FLOATING_IP, server },
      });
    }
    if (seen.method === "POST" && seen.path === `${base}/actions/assign`) {
      const request = JSON.parse(seen.body) as Record<string, unknown>;
      if (typeof request.server !== "number") {
        return Response.json({ error: { code: "invalid_input" } }, {
          status: 422,
        });
      }
      const id = this.#newAction(String(request.server));
      return Response.json({
        action: { id, command: "assign_floating_ip", status: "running" },
      }, { status: 201 });
    }
    const match = /^\/v1\/floating_ips\/actions\/(\d+)$/.exec(seen.path);
    if (seen.method === "GET" && match !== null) {
      const state = this.#poll(Number(match[1]));
      if (state === null) return new Response("", { status: 404 });
      const status = state === "done" ? "success" : "running";
      return Response.json({ action: { id: Number(match[1]), status } });
    }
    return new Response("not found", { status: 404 });
  }

  #aws(body: string): Response {
    const params = new URLSearchParams(body);
    const xml = (inner: string) =>
      new Response(
        `<?xml version="1.0" encoding="UTF-8"?>\n${inner}`,
        { headers: { "Content-Type": "text/xml;charset=UTF-8" } },
      );
    if (params.get("Version") !== "2016-11-15") {
      return new Response(
        "<Response><Errors><Error><Code>InvalidParameterValue</Code></Error></Errors></Response>",
        { status: 400 },
      );
    }
    if (params.get("Action") === "DescribeAddresses") {
      const instance = this.holder === null
        ? ""
        : `<instanceId>${this.holder}</instanceId><associationId>eipassoc-1</associationId>`;
      return xml(
        `<DescribeAddressesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId><addressesSet><item><publicIp>${FLOATING_IP}</publicIp><allocationId>${ALLOCATION_ID}</allocationId><domain>vpc</domain>${instance}</item></addressesSet></DescribeAddressesResponse>`,
      );
    }
    if (
      params.get("Action") === "AssociateAddress" &&
      params.get("AllocationId") === ALLOCATION_ID &&
      params.get("InstanceId") !== null
    ) {
      this.holder = params.get("InstanceId");
      return xml(
        `<AssociateAddressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><return>true</return><associationId>eipassoc-2</associationId></AssociateAddressResponse>`,
      );
    }
    return new Response(
      "<Response><Errors><Error><Code>InvalidAction</Code></Error></Errors></Response>",
      { status: 400 },
    );
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
