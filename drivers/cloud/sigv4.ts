/**
 * AWS Signature Version 4 through WebCrypto (HMAC-SHA-256, SHA-256), for the
 * EC2 Query API calls of the floating_ip driver. Signs `host`,
 * `content-type`, `x-amz-date` (and `x-amz-security-token` when a session
 * token is given) over the exact body.
 *
 * Why not the AWS SDK: @aws-sdk/client-ec2 pulls in dozens of packages and
 * megabytes to sign two calls; the algorithm is ~80 lines and checked
 * against AWS's published example in tests/drivers/sigv4_test.ts.
 */

const encoder = new TextEncoder();

/** Credentials from the driver's token file. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where the request goes. */
export interface SignScope {
  region: string;
  service: string;
}

/** A request to sign: the headers returned replace the given ones. */
export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function hex(bytes: ArrayBuffer): string {
  return new Uint8Array(bytes).toHex();
}

async function sha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

async function hmac(
  key: Uint8Array<ArrayBuffer>,
  text: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text)),
  );
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20150830T123600Z` for a date. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** The derived signing key for one day, region and service. */
export async function signingKey(
  secret: string,
  day: string,
  scope: SignScope,
): Promise<Uint8Array<ArrayBuffer>> {
  const kDate = await hmac(encoder.encode(`AWS4${secret}`), day);
  const kRegion = await hmac(kDate, scope.region);
  const kService = await hmac(kRegion, scope.service);
  return await hmac(kService, "aws4_request");
}

/** Returns the request's headers plus `X-Amz-Date` and `Authorization`. */
export async function signRequest(
  request: SignableRequest,
  credentials: AwsCredentials,
  scope: SignScope,
  now: Date,
): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    "X-Amz-Date": date,
  };
  if (credentials.sessionToken !== undefined) {
    headers["X-Amz-Security-Token"] = credentials.sessionToken;
  }
  const canonical = new Map<string, string>([["host", url.host]]);
  for (const [name, value] of Object.entries(headers)) {
    canonical.set(name.toLowerCase(), value.trim().replace(/\s+/g, " "));
  }
  const names = [...canonical.keys()].sort();
  const signedHeaders = names.join(";");
  const query = [...url.searchParams].map(([k, v]) =>
    `${uriEncode(k)}=${uriEncode(v)}`
  ).sort().join("&");
  const path = url.pathname === "" ? "/" : url.pathname;
  const canonicalRequest = [
    request.method,
    path.split("/").map((s) => uriEncode(decodeURIComponent(s))).join("/"),
    query,
    names.map((n) => `${n}:${canonical.get(n)}\n`).join(""),
    signedHeaders,
    await sha256Hex(request.body),
  ].join("\n");
  const credentialScope =
    `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    date,
    credentialScope,
    await sha256Hex(canonicalRequest),
  ].join("\n");
  const key = await signingKey(credentials.secretAccessKey, day, scope);
  const signature = (await hmac(key, stringToSign)).toHex();
  headers["Authorization"] =
    `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credentialScope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
