/**
 * Prometheus text exposition (format 0.0.4) from plain metric families.
 * Pure: the daemon gathers values, this only renders them.
 */

/** One sample of a family, with its labels. */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** Suffix for histogram/summary parts, e.g. `_sum`, `_count`. */
  suffix?: string;
}

/** A named metric with its help text and samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "summary" | "untyped";
  samples: Sample[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Fractions keep this many decimals (microseconds for seconds values). */
export const METRIC_DECIMALS = 6;

/** Integers as they are; fractions rounded (no `0.0015300000000000001`). */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toFixed(METRIC_DECIMALS)));
}

/** Renders families in the given order; samples with labels sorted by key. */
export function renderMetrics(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {})
        .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
        .map(([key, value]) => `${key}="${escapeLabel(value)}"`);
      const labelText = labels.length > 0 ? `{${labels.join(",")}}` : "";
      lines.push(
        `${family.name}${sample.suffix ?? ""}${labelText} ${
          formatNumber(sample.value)
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
