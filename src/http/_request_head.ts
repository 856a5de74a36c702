/**
 * The HTTP/1.1 request head as the listener reads it: request line and
 * header fields (RFC 9112 §3, §5), strictly, since only probes, Prometheus,
 * HAProxy and WebSocket upgrades talk to this port. Pure; bad input comes
 * back as a described problem, never an exception.
 */

/** Header fields one request may carry. */
export const HEADER_FIELDS_MAX = 64;

/** A parsed request head. */
export interface RequestHead {
  method: string;
  /** Origin-form target: path and query. */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  headers: Headers;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Parses `text` (the head without its final blank line). */
export function parseRequestHead(text: string): RequestHead | string {
  const lines = text.split("\r\n");
  const requestLine = lines.shift() ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3) return "malformed request line";
  const [method = "", target = "", version = ""] = parts;
  if (!TOKEN.test(method)) return "malformed method";
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return "unsupported HTTP version";
  }
  if (!target.startsWith("/") || !/^[\x21-\x7e]+$/.test(target)) {
    return "request target is not an origin-form path";
  }
  if (lines.length > HEADER_FIELDS_MAX) return "too many header fields";
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "malformed header field";
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    // No whitespace before the colon and no obsolete line folding (§5.1).
    if (!TOKEN.test(name)) return "malformed header field name";
    if (!FIELD_VALUE.test(value)) return "malformed header field value";
    try {
      headers.append(name, value);
    } catch (_error: unknown) {
      return "malformed header field value";
    }
  }
  if (version === "HTTP/1.1" && !headers.has("host")) {
    return "HTTP/1.1 request without Host";
  }
  return { method, target, version, headers };
}

/** Whether the connection may carry another request after this one. */
export function keepsAlive(head: RequestHead): boolean {
  const tokens = (head.headers.get("connection") ?? "").toLowerCase().split(
    ",",
  ).map((t) => t.trim());
  if (tokens.includes("close")) return false;
  if (head.version === "HTTP/1.0") return tokens.includes("keep-alive");
  return true;
}

/** Whether the request announces a body (which this listener never reads). */
export function hasBody(head: RequestHead): boolean {
  if (head.headers.has("transfer-encoding")) return true;
  const length = head.headers.get("content-length");
  return length !== null && length.trim() !== "0";
}
