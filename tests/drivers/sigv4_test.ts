import assert from "node:assert/strict";
import { amzDate, signingKey, signRequest } from "../../drivers/cloud/sigv4.ts";
import { backoffMs, retryAfterMs } from "../../drivers/cloud/http.ts";

// AWS's published Signature Version 4 example (IAM ListUsers, 2015-08-30).
const EXAMPLE = {
  credentials: {
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  },
  scope: { region: "us-east-1", service: "iam" },
  now: new Date("2015-08-30T12:36:00Z"),
};

Deno.test("signingKey() derives AWS's example signing key", async () => {
  const key = await signingKey(
    EXAMPLE.credentials.secretAccessKey,
    "20150830",
    EXAMPLE.scope,
  );
  assert.equal(
    key.toHex(),
    "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
  );
});

Deno.test("signRequest() reproduces AWS's example signature", async () => {
  const headers = await signRequest(
    {
      method: "GET",
      url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
      },
      body: "",
    },
    EXAMPLE.credentials,
    EXAMPLE.scope,
    EXAMPLE.now,
  );
  assert.equal(headers["X-Amz-Date"], "20150830T123600Z");
  assert.equal(
    headers.Authorization,
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, " +
      "SignedHeaders=content-type;host;x-amz-date, " +
      "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
  );
});

Deno.test("signRequest() signs a session token and the body", async () => {
  const request = {
    method: "POST",
    url: "https://ec2.eu-west-1.amazonaws.com/",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "Action=DescribeAddresses&Version=2016-11-15",
  };
  const scope = { region: "eu-west-1", service: "ec2" };
  const a = await signRequest(
    request,
    {
      ...EXAMPLE.credentials,
      sessionToken: "tok",
    },
    scope,
    EXAMPLE.now,
  );
  assert.equal(a["X-Amz-Security-Token"], "tok");
  assert.match(
    a.Authorization ?? "",
    /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,/,
  );
  const b = await signRequest(
    { ...request, body: request.body + "&x=1" },
    EXAMPLE.credentials,
    scope,
    EXAMPLE.now,
  );
  assert.notEqual(a.Authorization, b.Authorization);
  assert.equal(
    amzDate(new Date("2026-01-02T03:04:05.678Z")),
    "20260102T030405Z",
  );
});

Deno.test("backoffMs() is capped with jitter; retryAfterMs() reads seconds and dates, capped", () => {
  assert.equal(backoffMs(1, () => 0), 100);
  assert.equal(backoffMs(1, () => 1), 200);
  assert.equal(backoffMs(30, () => 1), 5000);
  assert.equal(retryAfterMs(null), null);
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(retryAfterMs("99999"), 30_000);
  assert.equal(retryAfterMs("Thu, 01 Jan 1970 00:00:10 GMT", 0), 10_000);
  assert.equal(retryAfterMs("soon"), null);
});
