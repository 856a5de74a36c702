/**
 * HTTP/1.1 responses as the listener writes them: the status line, the
 * handler's headers, a content length (bodies are small and whole) and the
 * connection header; no body for HEAD. Pure apart from reading the body.
 */

import { joinBytes } from "../websocket/codec.ts";

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

function reasonPhrase(response: Response): string {
  return response.statusText !== ""
    ? response.statusText
    : REASONS[response.status] ?? "Status";
}

/** A short plain-text response. */
export function plain(status: number, text: string): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The bytes of `response` for a `method` request. */
export async function serializeResponse(
  response: Response,
  method: string,
  keepAlive: boolean,
): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${reasonPhrase(response)}`];
  for (const [name, value] of response.headers) {
    if (!/^(content-length|connection|transfer-encoding)$/.test(name)) {
      lines.push(`${name}: ${value}`);
    }
  }
  lines.push(`content-length: ${body.length}`);
  lines.push(`connection: ${keepAlive ? "keep-alive" : "close"}`);
  const head = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  return method === "HEAD" ? head : joinBytes([head, body]);
}
