import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonProcess } from './daemon-process.js';
import { makeRow, type Row } from './report.js';
import type { CentralResult } from './rr-central-main.js';
import { countCommands, describeCalls, sumCalls, type BenchRedis } from './redis-server.js';
import { describeRound, rrRound, type RrRoundOptions } from './rr.js';

/** A tcp-rr round with the Redis commands it caused, per round trip answered (warm-up, window and drain alike). */
export interface CountedRound {
  readonly r: CentralResult;
  /** Round trips answered in the whole round, the window and outside it: what the command count covers. */
  readonly answered: number;
  readonly commands: number;
  readonly perRoundTrip: number;
  readonly byCommand: Map<string, number>;
  /** CPU time (user + system) of the daemons given, summed, per round trip answered, in µs. */
  readonly cpuPerRoundTrip: number;
}

/**
 * One round with Redis's command counters and the CPU time of `daemons` read before and after.
 * The CPU says whether the nodes were busy or waiting: a round trip through the inboxes costs
 * more hops (processes woken) than CPU.
 */
export async function countedRound(redis: BenchRedis, o: RrRoundOptions, label: string, log: (m: string) => void, daemons: readonly DaemonProcess[]): Promise<CountedRound> {
  const cpuBefore = await Promise.all(daemons.map((d) => d.cpuMicros()));
  const { result: r, total, byCommand } = await countCommands(redis, () => rrRound(o));
  const cpuAfter = await Promise.all(daemons.map((d) => d.cpuMicros()));
  const answered = r.sent - r.outstandingAtEnd;
  const perRoundTrip = answered > 0 ? total / answered : NaN;
  const cpu = cpuAfter.map((c, i) => c - cpuBefore[i]!);
  const cpuPerRoundTrip = answered > 0 ? cpu.reduce((x, y) => x + y, 0) / answered : NaN;
  log(`${describeRound(label, r)}; Redis: ${total} commands for ${answered} round trips = ${(1000 * perRoundTrip).toPrecision(3)}/1000 rt `
    + `(${describeCalls(byCommand, answered / 1000)}); daemon CPU ${cpu.map((c) => `${(c / 1000).toFixed(0)} ms`).join(' + ')} = ${cpuPerRoundTrip.toFixed(2)} µs/rt`);
  return { r, answered, commands: total, perRoundTrip, byCommand, cpuPerRoundTrip };
}

/** The Redis-commands row: per round trip, each round; `note` names the commands, per round trip over all rounds. */
export function commandsRow(scenario: string, rounds: readonly CountedRound[]): Row {
  const answered = rounds.reduce((n, x) => n + x.answered, 0);
  const calls = sumCalls(rounds.map((x) => x.byCommand));
  const total = rounds.reduce((n, x) => n + x.commands, 0);
  const note = `${total} commands for ${answered} round trips over ${rounds.length} round(s), per 1 000 round trips: ${describeCalls(calls, answered / 1000, 8) || 'none'}`;
  // Per 1 000: same-node's few commands (handshakes, heartbeats, sweeps) would round to 0 per round trip.
  return makeRow(scenario, 'Redis commands/1000 round trips', rounds.map((x) => 1000 * x.perRoundTrip), { kind: 'report' }, undefined, note);
}

/** A --cpu-prof directory of its own for one node, so each profile says which node it was. */
export function nodeProfDir(root: string | undefined, node: string): string | undefined {
  if (!root) return undefined;
  const dir = join(root, node);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A round on a daemon without Redis: its CPU per round trip only. */
export async function cpuRound(o: RrRoundOptions, label: string, log: (m: string) => void, daemon: DaemonProcess): Promise<{ r: CentralResult; cpuPerRoundTrip: number }> {
  const before = await daemon.cpuMicros();
  const r = await rrRound(o);
  const cpu = (await daemon.cpuMicros()) - before;
  const answered = r.sent - r.outstandingAtEnd;
  const cpuPerRoundTrip = answered > 0 ? cpu / answered : NaN;
  log(`${describeRound(label, r)}; daemon CPU ${(cpu / 1000).toFixed(0)} ms = ${cpuPerRoundTrip.toFixed(2)} µs/rt`);
  return { r, cpuPerRoundTrip };
}
