/**
 * Hetzner Cloud floating IPs, API v1 (base URL includes `/v1`):
 * - holder:  GET  /floating_ips/{id}                      → floating_ip.server (or null)
 * - assign:  POST /floating_ips/{id}/actions/assign       {"server":N} → action.id
 * - action:  GET  /floating_ips/actions/{action_id}       → action.status running|success|error
 *   (the per-IP `/floating_ips/{id}/actions/{action_id}` is deprecated)
 * - machine: GET  {metadata}/hetzner/v1/metadata/instance-id → server id (text)
 * Auth: `Authorization: Bearer <token>`. The floating IP is named by its
 * numeric id (`floating_ip_id`), as the API does.
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

/** Hetzner Cloud's floating IP API. */
export class Hetzner implements Provider {
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

  #url(suffix = ""): string {
    return `${this.#s.apiUrl}/floating_ips/${this.#s.floatingIpId}${suffix}`;
  }

  async machineId(): Promise<string> {
    const response = await this.#api.call({
      method: "GET",
      url: `${this.#s.metadataUrl}/hetzner/v1/metadata/instance-id`,
      headers: {},
    }, { label: "read server id" });
    return response.text.trim();
  }

  async holder(term?: number): Promise<string | null> {
    const label = "read holder";
    const response = await this.#api.call(
      { method: "GET", url: this.#url(), headers: this.#headers() },
      term === undefined ? { label } : { label, term },
    );
    return idText(field(json(response.text, label), "floating_ip")?.server);
  }

  async assign(machine: string, term: number): Promise<string | null> {
    const label = "assign";
    const response = await this.#api.call({
      method: "POST",
      url: this.#url("/actions/assign"),
      headers: this.#headers(),
      body: JSON.stringify({ server: Number(machine) }),
    }, { label, term });
    return idText(field(json(response.text, label), "action")?.id);
  }

  async actionState(action: string, term: number): Promise<ActionState> {
    const label = "read action";
    const response = await this.#api.call({
      method: "GET",
      url: `${this.#s.apiUrl}/floating_ips/actions/${action}`,
      headers: this.#headers(),
    }, { label, term });
    const status = field(json(response.text, label), "action")?.status;
    if (status === "success") return "done";
    if (status === "error") return "failed";
    return "running";
  }
}
