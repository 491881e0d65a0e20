/**
 * The Prometheus text exposition format (version 0.0.4) for the agent's few gauges and counters.
 * Written here rather than with prom-client: its import cost ~3.5 MB of the idle agent's memory
 * (bench/agent.ts), for a dozen series the agent sets itself.
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

/** Label values escaped as the format requires: backslash, double quote, line feed. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(names: readonly string[], labels: Labels): string {
  if (names.length === 0) return "";
  return `{${names.map((n) => `${n}="${escapeLabel(labels[n] ?? "")}"`).join(",")}}`;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

abstract class Metric {
  protected readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly opts: { name: string; help: string; labelNames?: readonly string[]; registers?: Registry[] },
    private readonly type: "gauge" | "counter",
  ) {
    for (const r of opts.registers ?? []) r.add(this);
  }

  protected key(labels: Labels): string {
    return JSON.stringify((this.opts.labelNames ?? []).map((n) => labels[n] ?? ""));
  }

  reset(): void {
    this.values.clear();
  }

  text(): string {
    const names = this.opts.labelNames ?? [];
    const lines = [`# HELP ${this.opts.name} ${escapeHelp(this.opts.help)}`, `# TYPE ${this.opts.name} ${this.type}`];
    // Like prom-client: a metric without labels that was never set reads 0.
    if (this.values.size === 0 && names.length === 0) lines.push(`${this.opts.name} 0`);
    for (const { labels, value } of this.values.values()) lines.push(`${this.opts.name}${labelText(names, labels)} ${valueText(value)}`);
    return lines.join("\n");
  }
}

export class Gauge extends Metric {
  constructor(opts: { name: string; help: string; labelNames?: readonly string[]; registers?: Registry[] }) {
    super(opts, "gauge");
  }

  set(labelsOrValue: Labels | number, value?: number): void {
    const [labels, v] = typeof labelsOrValue === "number" ? [{}, labelsOrValue] : [labelsOrValue, value ?? 0];
    this.values.set(this.key(labels), { labels, value: v });
  }
}

export class Counter extends Metric {
  constructor(opts: { name: string; help: string; labelNames?: readonly string[]; registers?: Registry[] }) {
    super(opts, "counter");
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = this.key(labels);
    const cur = this.values.get(k);
    this.values.set(k, { labels, value: (cur?.value ?? 0) + by });
  }
}

export class Registry {
  readonly contentType = CONTENT_TYPE;
  private readonly metrics: Metric[] = [];

  add(m: Metric): void {
    this.metrics.push(m);
  }

  metricsText(): string {
    return `${this.metrics.map((m) => m.text()).join("\n\n")}\n`;
  }
}
