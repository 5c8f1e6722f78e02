import { median, round3 } from './stats.js';

/** How a figure is judged: against the baseline's median (ratio) or as an absolute value. */
export type Target =
  | { readonly kind: 'ratio>='; readonly value: number }
  | { readonly kind: 'ratio<='; readonly value: number }
  | { readonly kind: 'abs>='; readonly value: number }
  | { readonly kind: 'abs<='; readonly value: number }
  | { readonly kind: 'report' };

/** One measured figure: what `run.ts` prints as a table row and as one JSON line. */
export interface Row {
  readonly scenario: string;
  readonly unit: string;
  readonly median: number;
  readonly baseline: number | null;
  readonly ratio: number | null;
  readonly target: string;
  /** null when there is nothing to meet (report-only figures). */
  readonly met: boolean | null;
  readonly rounds: readonly number[];
  readonly baselineRounds?: readonly number[];
  readonly note?: string;
}

export function targetText(t: Target): string {
  switch (t.kind) {
    case 'ratio>=': return `>= ${t.value}x baseline`;
    case 'ratio<=': return `<= ${t.value}x baseline`;
    case 'abs>=': return `>= ${t.value}`;
    case 'abs<=': return `<= ${t.value}`;
    case 'report': return 'report';
  }
}

/** Builds a row from rounds (and baseline rounds measured interleaved in the same run). */
export function makeRow(scenario: string, unit: string, rounds: readonly number[], target: Target, baselineRounds?: readonly number[], note?: string): Row {
  const m = median(rounds);
  const b = baselineRounds ? median(baselineRounds) : null;
  const ratio = b !== null && b !== 0 ? m / b : null;
  let met: boolean | null;
  switch (target.kind) {
    case 'ratio>=': met = ratio !== null && ratio >= target.value; break;
    case 'ratio<=': met = ratio !== null && ratio <= target.value; break;
    case 'abs>=': met = m >= target.value; break;
    case 'abs<=': met = m <= target.value; break;
    case 'report': met = null; break;
  }
  return {
    scenario, unit, median: round3(m), baseline: b === null ? null : round3(b), ratio: ratio === null ? null : round3(ratio),
    target: targetText(target), met, rounds: rounds.map(round3), baselineRounds: baselineRounds?.map(round3), note,
  };
}

function fmt(x: number | null): string {
  if (x === null || Number.isNaN(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return String(round3(x));
}

export function formatTable(rows: readonly Row[]): string {
  const head = ['scenario', 'unit', 'median', 'baseline', 'ratio', 'target', 'met', 'rounds'];
  const body = rows.map((r) => [
    r.scenario, r.unit, fmt(r.median), fmt(r.baseline), fmt(r.ratio), r.target, r.met === null ? '-' : r.met ? 'yes' : 'NO', String(r.rounds.length),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function jsonLine(r: Row): string {
  return JSON.stringify(r);
}
