/**
 * Structured logging for every shell: one line per event on stderr, with time,
 * level, subsystem, message and fields. Text for people, JSON for collectors.
 * `DEBUG=clustd:*` (comma lists, `*` wildcards, `-` exclusions) enables debug
 * lines per subsystem. Never throws: a log line that cannot be written is lost.
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Output format: `text` for terminals and files, `json` for journald/collectors. */
export type LogFormat = "text" | "json";

/** Extra key/value context carried on one line. */
export type LogFields = Record<string, unknown>;

/** Where finished lines go; tests swap it to capture output. */
export type LogSink = (line: string) => void;

/** Process-wide logging settings. */
interface LogSettings {
  format: LogFormat;
  debug: DebugMatcher;
  sink: LogSink;
}

const encoder = new TextEncoder();

function stderrSink(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch (_error: unknown) {
    // stderr is gone (closed pipe): there is nowhere left to report it.
  }
}

/** Decides from a DEBUG value whether a subsystem logs at debug level. */
export class DebugMatcher {
  #include: RegExp[] = [];
  #exclude: RegExp[] = [];

  constructor(spec: string) {
    for (const raw of spec.split(/[\s,]+/)) {
      if (raw === "") continue;
      const negated = raw.startsWith("-");
      const pattern = negated ? raw.slice(1) : raw;
      const source = pattern.split("*").map(escapeRegExp).join(".*");
      (negated ? this.#exclude : this.#include).push(new RegExp(`^${source}$`));
    }
  }

  /** True when `clustd:<subsystem>` is enabled by the spec. */
  enabled(subsystem: string): boolean {
    const name = `clustd:${subsystem}`;
    if (this.#exclude.some((re) => re.test(name))) return false;
    return this.#include.some((re) => re.test(name));
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** The DEBUG environment variable, or "" without env permission. */
export function readDebugEnv(): string {
  try {
    // Ask first: reading without permission would prompt on a terminal.
    const state =
      Deno.permissions.querySync({ name: "env", variable: "DEBUG" }).state;
    if (state !== "granted") return "";
    return Deno.env.get("DEBUG") ?? "";
  } catch (_error: unknown) {
    // No env permission (a sandboxed Worker): debug stays off.
    return "";
  }
}

const settings: LogSettings = {
  format: "text",
  debug: new DebugMatcher(readDebugEnv()),
  sink: stderrSink,
};

/** Changes process-wide settings; omitted fields keep their value. */
export function configureLogging(
  options: { format?: LogFormat; debug?: string; sink?: LogSink },
): void {
  if (options.format !== undefined) settings.format = options.format;
  if (options.debug !== undefined) {
    settings.debug = new DebugMatcher(options.debug);
  }
  if (options.sink !== undefined) settings.sink = options.sink;
}

/** Restores the default sink (stderr). */
export function resetLogSink(): void {
  settings.sink = stderrSink;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") {
    return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (value instanceof Error) return JSON.stringify(value.message);
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (_error: unknown) {
    return JSON.stringify(String(value));
  }
}

/** Renders one line in the configured format. Exported for tests. */
export function formatLine(
  level: LogLevel,
  subsystem: string,
  message: string,
  fields: LogFields,
  format: LogFormat = settings.format,
): string {
  const time = new Date().toISOString();
  if (format === "json") {
    const record: Record<string, unknown> = {
      time,
      level,
      subsystem,
      msg: message,
    };
    for (const [key, value] of Object.entries(fields)) {
      record[key] = value instanceof Error ? value.message : value;
    }
    try {
      return JSON.stringify(record);
    } catch (_error: unknown) {
      return JSON.stringify({ time, level, subsystem, msg: message });
    }
  }
  const parts = [time, level.toUpperCase().padEnd(5), `${subsystem}:`, message];
  for (const [key, value] of Object.entries(fields)) {
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(" ").replace(/\n/g, "\\n");
}

/** A logger bound to one subsystem (`mesh`, `election`, `driver:bash`...). */
export class Logger {
  readonly subsystem: string;

  constructor(subsystem: string) {
    this.subsystem = subsystem;
  }

  /** A logger for a sub-subsystem, e.g. `mesh` → `mesh:peer`. */
  child(name: string): Logger {
    return new Logger(`${this.subsystem}:${name}`);
  }

  /** True when debug lines of this subsystem are enabled. */
  get debugEnabled(): boolean {
    return settings.debug.enabled(this.subsystem);
  }

  debug(message: string, fields: LogFields = {}): void {
    if (this.debugEnabled) this.#write("debug", message, fields);
  }

  info(message: string, fields: LogFields = {}): void {
    this.#write("info", message, fields);
  }

  warn(message: string, fields: LogFields = {}): void {
    this.#write("warn", message, fields);
  }

  error(message: string, fields: LogFields = {}): void {
    this.#write("error", message, fields);
  }

  #write(level: LogLevel, message: string, fields: LogFields): void {
    settings.sink(formatLine(level, this.subsystem, message, fields));
  }
}

/** Shorthand for `new Logger(subsystem)`. */
export function logger(subsystem: string): Logger {
  return new Logger(subsystem);
}
