import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, jsonLine, type Row } from './report.js';

export interface ScenarioOptions {
  /** Smaller sizes and fewer rounds: the whole suite in under a minute. */
  readonly quick: boolean;
  /** Tiny sizes, one round: the smoke test; figures mean nothing. */
  readonly smoke?: boolean;
  /** When set, the daemon child of the scenarios that support it writes a --cpu-prof profile here. */
  readonly cpuProfDir?: string;
  /** Processes the tcp-rr objects are spread over (the central has its own). Default 1. */
  readonly objectProcs?: number;
  /** cluster-sessions: seconds the sessions stay held, idle, after the ramp (past the nodes' idle Pings). Default 0. */
  readonly holdSec?: number;
  readonly log: (msg: string) => void;
  /** A table of the scenario's own shape (peers: figures × systems), printed on stdout before the rows. */
  readonly table?: (markdown: string) => void;
}

export type Scenario = (o: ScenarioOptions) => Promise<Row[]>;

/** Most seconds `--hold-sec` takes: the load processes' own bound grows with it. */
const MAX_HOLD_SEC = 3600;

export function parseArgs(argv: readonly string[]): { quick: boolean; names: string[]; cpuProfDir?: string; objectProcs?: number; holdSec?: number; installPeers: boolean } {
  const names: string[] = [];
  let quick = false;
  let installPeers = false;
  let cpuProfDir: string | undefined;
  let objectProcs: number | undefined;
  let holdSec: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--cpu-prof') cpuProfDir = argv[++i];
    else if (a === '--object-procs') objectProcs = Number(argv[++i]);
    else if (a === '--hold-sec') {
      holdSec = Number(argv[++i]);
      if (!Number.isInteger(holdSec) || holdSec < 0 || holdSec > MAX_HOLD_SEC) throw new Error(`--hold-sec: a whole number of seconds from 0 to ${MAX_HOLD_SEC}, not ${argv[i] ?? 'nothing'}`);
    } else if (a === '--install-peers') installPeers = true;
    else names.push(a);
  }
  return { quick, names, cpuProfDir, objectProcs, holdSec, installPeers };
}

export function printRows(rows: readonly Row[], tables: readonly string[] = []): void {
  for (const t of tables) process.stdout.write(`${t}\n\n`);
  process.stdout.write(`${formatTable(rows)}\n\n`);
  for (const r of rows) process.stdout.write(`${jsonLine(r)}\n`);
}

/** A scratch directory removed by `cleanup()`. */
export function scratchDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `iots-bench-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Lets each bench/scenarios/*.ts run alone: `node dist/bench/scenarios/codec.js [--quick]`. */
export function runIfMain(moduleUrl: string, scenario: Scenario): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  const args = parseArgs(process.argv.slice(2));
  const tables: string[] = [];
  scenario({ quick: args.quick, cpuProfDir: args.cpuProfDir, objectProcs: args.objectProcs, holdSec: args.holdSec, log: (m) => process.stderr.write(`${m}\n`), table: (t) => tables.push(t) })
    .then((rows) => printRows(rows, tables))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    });
}
