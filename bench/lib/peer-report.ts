/**
 * The peers scenario's report: its JSON rows, the issue's peer table (figures × systems) and
 * the two targets of #14 judged, from the rounds and memory figures of one run.
 */
import { SYSTEM_TITLES, SYSTEMS, type System } from './peer-brokers.js';
import type { PeerRound } from './peer-round.js';
import { formatPeerTable, type PeerFigure } from './peer-table.js';
import { makeRow, type Row, type Target } from './report.js';
import { median } from './stats.js';

/** One system's memory figures: RSS before any session, and per idle device connection. */
export interface IdleMemory {
  readonly rssBefore: number;
  readonly kibPerConnection: number;
  readonly opened: number;
  readonly answered: number;
}

/** Figures per system as the issue's table has them, in the order of its rows. */
interface Series {
  readonly name: string;
  readonly scenario: string;
  readonly unit: string;
  readonly rounds: (sys: System) => number[];
}

/** What the peers scenario measured, by system. */
export interface PeerResults {
  /** The systems that ran, in table order. */
  readonly ran: readonly System[];
  /** Those that could not, with the reason their column shows. */
  readonly absent: ReadonlyMap<System, string>;
  /** Rounds with 32 requests in flight per device, and with 1. */
  readonly loaded: ReadonlyMap<System, readonly PeerRound[]>;
  readonly single: ReadonlyMap<System, readonly PeerRound[]>;
  readonly memory: ReadonlyMap<System, IdleMemory>;
}

/** The rows (one per figure and peer: ours as median, the peer's as baseline) and the peer table, handed to `table`. */
export function peerReport(res: PeerResults, table?: (markdown: string) => void): Row[] {
  const { ran, absent, loaded, single, memory } = res;
  const of = (m: ReadonlyMap<System, readonly PeerRound[]>, f: (r: PeerRound) => number) => (sys: System) => (m.get(sys) ?? []).map(f);
  const mem = (f: (m: IdleMemory) => number) => (sys: System) => (memory.has(sys) ? [f(memory.get(sys)!)] : []);
  const series: Series[] = [
    { name: 'broker CPU per 1 000 round trips', scenario: 'peers/broker-cpu', unit: 'ms', rounds: of(loaded, (r) => r.brokerUsPerRt) },
    { name: 'p50 under that load', scenario: 'peers/p50', unit: 'ms', rounds: of(loaded, (r) => r.p50) },
    { name: 'p99 under that load', scenario: 'peers/p99', unit: 'ms', rounds: of(loaded, (r) => r.p99) },
    { name: 'p99 with 1 request in flight', scenario: 'peers/p99-1-in-flight', unit: 'ms', rounds: of(single, (r) => r.p99) },
    { name: 'RSS per idle device connection', scenario: 'peers/rss-per-connection', unit: 'KiB', rounds: mem((m) => m.kibPerConnection) },
    { name: 'RSS before any session', scenario: 'peers/rss-at-start', unit: 'MiB', rounds: mem((m) => m.rssBefore / 2 ** 20) },
    { name: 'round trips/s under that load', scenario: 'peers/round-trips', unit: 'rt/s', rounds: of(loaded, (r) => r.perSec) },
    { name: 'load side CPU per 1 000 round trips (central + devices)', scenario: 'peers/load-cpu', unit: 'ms', rounds: of(loaded, (r) => r.loadUsPerRt) },
  ];
  const valuesOf = (x: Series) => Object.fromEntries(ran.map((sys) => [sys, median(x.rounds(sys))])) as Partial<Record<System, number>>;
  const [cpu, p50, p99, ...rest] = series;
  const figures: PeerFigure[] = [
    { name: cpu!.name, unit: cpu!.unit, values: valuesOf(cpu!) },
    {
      name: 'p50 / p99 under that load', unit: 'ms',
      values: Object.fromEntries(ran.map((sys) => [sys, [median(p50!.rounds(sys)), median(p99!.rounds(sys))] as const])),
    },
    ...rest.map((x) => ({ name: x.name, unit: x.unit, values: valuesOf(x) })),
  ];
  // The issue's targets, each against one peer; met is false when that peer could not run.
  const targets: ReadonlyArray<{ scenario: string; peer: System; target: Target; text: string }> = [
    { scenario: 'peers/broker-cpu', peer: 'nats', target: { kind: 'ratio<=', value: 0.75 }, text: 'daemon CPU per 1 000 round trips <= 0.75x NATS\'s' },
    { scenario: 'peers/p99-1-in-flight', peer: 'mosquitto', target: { kind: 'ratio<=', value: 1 }, text: 'p99 with 1 request in flight <= Mosquitto\'s' },
  ];
  const rows: Row[] = [];
  const problems = describeProblems([...loaded.values(), ...single.values()].flat());
  for (const x of series) {
    for (const peer of SYSTEMS.filter((sys) => sys !== 'daemon')) {
      const t = targets.find((g) => g.scenario === x.scenario && g.peer === peer);
      const why = absent.get(peer);
      const row = makeRow(`${x.scenario}/${peer}`, x.unit, x.rounds('daemon'), t?.target ?? { kind: 'report' }, why ? undefined : x.rounds(peer), why ? `${peer}: ${why}` : problems);
      rows.push(why && t ? { ...row, met: false } : row);
    }
  }
  const targetLines = targets.map((t) => {
    const r = rows.find((x) => x.scenario === `${t.scenario}/${t.peer}`)!;
    const how = r.ratio === null ? (absent.get(t.peer) ?? 'no figure') : `${r.median} / ${r.baseline} = ${r.ratio}x`;
    return `- target: ${t.text}: ${how}: ${r.met ? 'met' : 'NOT met'}`;
  });
  const idle = ran.map((sys) => `${SYSTEM_TITLES[sys]} ${memory.get(sys)?.opened ?? 0}`).join(', ');
  table?.([
    formatPeerTable(figures, SYSTEMS, absent),
    '',
    ...targetLines,
    `- medians of ${loaded.get('daemon')?.length ?? 0} interleaved rounds per system and load; idle connections opened: ${idle}${problems ? `; ${problems}` : ''}`,
  ].join('\n'));
  return rows;
}

function describeProblems(rs: readonly PeerRound[]): string | undefined {
  const errors = rs.reduce((n, r) => n + r.errors, 0);
  const left = rs.reduce((n, r) => n + r.unanswered, 0);
  return errors || left ? `${errors} wrong answers, ${left} unanswered` : undefined;
}

