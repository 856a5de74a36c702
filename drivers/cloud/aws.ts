/**
 * AWS Elastic IPs through the EC2 Query API (Version 2016-11-15), every call
 * a form-encoded POST signed with SigV4 (`sigv4.ts`):
 * - holder: Action=DescribeAddresses&PublicIp.1={ip} → addressesSet/item/instanceId
 *           (and allocationId, which AssociateAddress needs)
 * - assign: Action=AssociateAddress&AllocationId=…&InstanceId=…&AllowReassociation=true
 *           (synchronous: read back with DescribeAddresses)
 * - machine: IMDSv2, PUT {metadata}/latest/api/token then
 *           GET {metadata}/latest/meta-data/instance-id with the token.
 * Credentials: the token file's line 1 = access key id, line 2 = secret
 * access key, optional line 3 = session token.
 */

import type { ApiClient, ApiRequest } from "./http.ts";
import type { ActionState, Provider, ProviderSettings } from "./provider.ts";
import { type AwsCredentials, signRequest } from "./sigv4.ts";

/** EC2 Query API version the calls are written against. */
const EC2_API_VERSION = "2016-11-15";

/** Lifetime asked for an IMDSv2 session token, seconds. */
const IMDS_TOKEN_TTL_S = 60;

/** The text of the first `<tag>` in `xml`, or null. */
export function xmlText(xml: string, tag: string): string | null {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return match?.[1] ?? null;
}

/** AWS EC2's Elastic IP API. */
export class Aws implements Provider {
  readonly #s: ProviderSettings;
  readonly #api: ApiClient;
  readonly #credentials: AwsCredentials;
  #allocationId: string | null = null;

  constructor(settings: ProviderSettings, api: ApiClient) {
    this.#s = settings;
    this.#api = api;
    const [accessKeyId = "", secretAccessKey = "", sessionToken] = settings
      .token.split("\n").map((line) => line.trim());
    this.#credentials = { accessKeyId, secretAccessKey };
    if (sessionToken !== undefined && sessionToken !== "") {
      this.#credentials.sessionToken = sessionToken;
    }
  }

  #ec2(params: Record<string, string>): ApiRequest {
    const body = new URLSearchParams({
      ...params,
      Version: EC2_API_VERSION,
    }).toString();
    return {
      method: "POST",
      url: `${this.#s.apiUrl}/`,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
      },
      body,
    };
  }

  #sign = async (request: ApiRequest): Promise<ApiRequest> => {
    const headers = await signRequest(
      { ...request, body: request.body ?? "" },
      this.#credentials,
      { region: this.#s.region ?? "", service: "ec2" },
      new Date(),
    );
    return { ...request, headers };
  };

  async machineId(): Promise<string> {
    const base = this.#s.metadataUrl;
    const token = await this.#api.call({
      method: "PUT",
      url: `${base}/latest/api/token`,
      headers: {
        "X-aws-ec2-metadata-token-ttl-seconds": `${IMDS_TOKEN_TTL_S}`,
      },
    }, { label: "read metadata token" });
    const id = await this.#api.call({
      method: "GET",
      url: `${base}/latest/meta-data/instance-id`,
      headers: { "X-aws-ec2-metadata-token": token.text.trim() },
    }, { label: "read instance id" });
    return id.text.trim();
  }

  async holder(term?: number): Promise<string | null> {
    const label = "read holder";
    const request = this.#ec2({
      Action: "DescribeAddresses",
      "PublicIp.1": this.#s.ip,
    });
    const options = { label, prepare: this.#sign };
    const response = await this.#api.call(
      request,
      term === undefined ? options : { ...options, term },
    );
    const allocation = xmlText(response.text, "allocationId");
    if (allocation === null) {
      throw new Error(
        `${label}: DescribeAddresses does not list ${this.#s.ip}`,
      );
    }
    this.#allocationId = allocation;
    return xmlText(response.text, "instanceId");
  }

  async assign(machine: string, term: number): Promise<string | null> {
    if (this.#allocationId === null) await this.holder(term);
    await this.#api.call(
      this.#ec2({
        Action: "AssociateAddress",
        AllocationId: this.#allocationId ?? "",
        InstanceId: machine,
        AllowReassociation: "true",
      }),
      { label: "assign", term, prepare: this.#sign },
    );
    return null;
  }

  actionState(_action: string, _term: number): Promise<ActionState> {
    // AssociateAddress has no action to poll; the driver reads the holder back.
    return Promise.resolve("done");
  }
}
