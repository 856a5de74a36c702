/**
 * DigitalOcean floating (reserved) IPs, API v2:
 * - holder:  GET  /v2/floating_ips/{ip}              → floating_ip.droplet.id (or null)
 * - assign:  POST /v2/floating_ips/{ip}/actions      {"type":"assign","droplet_id":N} → action.id
 * - action:  GET  /v2/floating_ips/{ip}/actions/{id} → action.status in-progress|completed|errored
 * - machine: GET  {metadata}/metadata/v1/id          → droplet id (text)
 * Auth: `Authorization: Bearer <token>`.
 */

import type { ApiClient } from "./http.ts";
import {
  type ActionState,
  field,
  idText,
  json,
  type Provider,
  type ProviderSettings,
} from "./provider.ts";

/** DigitalOcean's floating IP API. */
export class DigitalOcean implements Provider {
  readonly #s: ProviderSettings;
  readonly #api: ApiClient;

  constructor(settings: ProviderSettings, api: ApiClient) {
    this.#s = settings;
    this.#api = api;
  }

  #headers(): Record<string, string> {
    return {
      "Authorization": `Bearer ${this.#s.token}`,
      "Content-Type": "application/json",
    };
  }

  #ipUrl(suffix = ""): string {
    return `${this.#s.apiUrl}/v2/floating_ips/${this.#s.ip}${suffix}`;
  }

  async machineId(): Promise<string> {
    const response = await this.#api.call({
      method: "GET",
      url: `${this.#s.metadataUrl}/metadata/v1/id`,
      headers: {},
    }, { label: "read droplet id" });
    return response.text.trim();
  }

  async holder(term?: number): Promise<string | null> {
    const label = "read holder";
    const response = await this.#api.call(
      { method: "GET", url: this.#ipUrl(), headers: this.#headers() },
      term === undefined ? { label } : { label, term },
    );
    const ip = field(json(response.text, label), "floating_ip");
    return idText(field(ip, "droplet")?.id);
  }

  async assign(machine: string, term: number): Promise<string | null> {
    const label = "assign";
    const response = await this.#api.call({
      method: "POST",
      url: this.#ipUrl("/actions"),
      headers: this.#headers(),
      body: JSON.stringify({ type: "assign", droplet_id: Number(machine) }),
    }, { label, term });
    return idText(field(json(response.text, label), "action")?.id);
  }

  async actionState(action: string, term: number): Promise<ActionState> {
    const label = "read action";
    const response = await this.#api.call({
      method: "GET",
      url: this.#ipUrl(`/actions/${action}`),
      headers: this.#headers(),
    }, { label, term });
    const status = field(json(response.text, label), "action")?.status;
    if (status === "completed") return "done";
    if (status === "errored") return "failed";
    return "running";
  }
}
