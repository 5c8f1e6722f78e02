/** Small statistics helpers: every figure the bench prints is a median of rounds. */

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile of an unsorted sample; NaN when empty. */
export function quantile(xs: readonly number[] | Float64Array, q: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

/** A bounded latency sample: keeps every value up to `cap`, then a uniform reservoir. */
export class Reservoir {
  readonly #cap: number;
  readonly values: number[] = [];
  #seen = 0;

  constructor(cap = 200_000) {
    this.#cap = cap;
  }

  add(v: number): void {
    this.#seen++;
    if (this.values.length < this.#cap) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.#seen);
      if (j < this.#cap) this.values[j] = v;
    }
  }
}

export function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
