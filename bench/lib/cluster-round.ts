import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
}

export async function countedRound(redis: BenchRedis, o: RrRoundOptions, label: string, log: (m: string) => void): Promise<CountedRound> {
  const { result: r, total, byCommand } = await countCommands(redis, () => rrRound(o));
  const answered = r.sent - r.outstandingAtEnd;
  const perRoundTrip = answered > 0 ? total / answered : NaN;
  log(`${describeRound(label, r)}; Redis: ${total} commands for ${answered} round trips = ${perRoundTrip.toPrecision(3)}/rt (${describeCalls(byCommand, answered)})`);
  return { r, answered, commands: total, perRoundTrip, byCommand };
}

/** The Redis-commands row: per round trip, each round; `note` names the commands, per round trip over all rounds. */
export function commandsRow(scenario: string, rounds: readonly CountedRound[]): Row {
  const answered = rounds.reduce((n, x) => n + x.answered, 0);
  const calls = sumCalls(rounds.map((x) => x.byCommand));
  const total = rounds.reduce((n, x) => n + x.commands, 0);
  const note = `${total} commands for ${answered} round trips over ${rounds.length} round(s), per round trip: ${describeCalls(calls, answered, 8) || 'none'}`;
  return makeRow(scenario, 'Redis commands/round trip', rounds.map((x) => x.perRoundTrip), { kind: 'report' }, undefined, note);
}

/** A --cpu-prof directory of its own for one node, so each profile says which node it was. */
export function nodeProfDir(root: string | undefined, node: string): string | undefined {
  if (!root) return undefined;
  const dir = join(root, node);
  mkdirSync(dir, { recursive: true });
  return dir;
}
