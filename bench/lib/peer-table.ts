/**
 * The peer table: one row per figure, one column per system, then the ratio of this
 * daemon's figure to each peer's. A peer that could not run keeps its column, saying why.
 */
import type { System } from './peer-brokers.js';
import { SYSTEM_TITLES } from './peer-brokers.js';

export interface PeerFigure {
  readonly name: string;
  readonly unit: string;
  /** One value per system that ran; a pair is printed "a / b" (p50 / p99), its ratio is the second's. */
  readonly values: Partial<Record<System, number | readonly [number, number]>>;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function cell(v: number | readonly [number, number] | undefined, unit: string): string {
  if (v === undefined) return '-';
  return typeof v === 'number' ? `${num(v)} ${unit}` : `${num(v[0])} / ${num(v[1])} ${unit}`;
}

const last = (v: number | readonly [number, number]): number => (typeof v === 'number' ? v : v[1]);

/** Markdown table. `absent` maps a system that did not run to the reason shown in its column. */
export function formatPeerTable(figures: readonly PeerFigure[], systems: readonly System[], absent: ReadonlyMap<System, string>): string {
  const peers = systems.filter((s) => s !== 'daemon');
  const head = ['figure', ...systems.map((s) => SYSTEM_TITLES[s]), ...peers.map((p) => `ours / ${SYSTEM_TITLES[p]}`)];
  const body = figures.map((f) => {
    const ours = f.values.daemon;
    return [
      f.name,
      ...systems.map((s) => absent.get(s) ?? cell(f.values[s], f.unit)),
      ...peers.map((p) => {
        const theirs = f.values[p];
        if (ours === undefined || theirs === undefined || last(theirs) === 0) return '-';
        return `${(last(ours) / last(theirs)).toFixed(2)}x`;
      }),
    ];
  });
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}
