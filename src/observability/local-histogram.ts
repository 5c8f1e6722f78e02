import type { Metric, Registry } from 'prom-client';

/** One label value's observations: per-bucket counts (not cumulative), sum and count. */
class Series {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(buckets: number) {
    this.counts = new Float64Array(buckets);
  }
}

interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * A histogram with one label, counted in plain numbers: an observation is a bucket search and
 * three additions, where prom-client's Histogram hashes the label set on every call (10.6 % of
 * the daemon's CPU under tcp-rr, issue 14). It registers in a prom-client Registry as any
 * metric does, and exports the same values in the same shape as prom-client's own histogram
 * (a test compares both outputs, text and JSON), so nothing on /metrics changes.
 */
export class LocalHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #label: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(c: { name: string; help: string; labelName: string; buckets: readonly number[]; registers?: readonly Registry[] }) {
    this.name = c.name;
    this.help = c.help;
    this.#label = c.labelName;
    this.#bounds = [...c.buckets].sort((a, b) => a - b);
    for (const r of c.registers ?? []) r.registerMetric(this as unknown as Metric);
  }

  /** Counts `value` under label value `label`: in the first bucket whose bound is ≥ it (else only +Inf), as prom-client does. */
  observe(label: string, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: not a valid number: ${value}`);
    let s = this.#series.get(label);
    if (!s) this.#series.set(label, (s = new Series(this.#bounds.length)));
    const b = this.#bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  /** The JSON form (Registry.getMetricsAsJSON): each value's shared labels folded into its own, as prom-client's get(). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }

  /** What the Registry renders as text: prom-client's histogram export (cumulative buckets, +Inf, sum, count per series). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportValue[] }> {
    const values: ExportValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [label, s] of this.#series) {
      const sharedLabels = { [this.#label]: label };
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.#bounds[i]! }, sharedLabels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics(). */
  reset(): void {
    this.#series.clear();
  }
}
