/**
 * workers-rr: tcp-rr's load (1 central, 10 objects × 32 in flight, 32-byte payloads, objects
 * echo) against `iotsocket start --workers 2` (two nodes of one cluster sharing one port), with
 * node:cluster's two schedulings (rr: the primary accepts and hands each connection round; none:
 * the kernel picks the worker that accepts). Baseline: a plain `iotsocket start`, one node, on
 * a cluster config too (same Redis, its own key prefix). All three run the whole time and are
 * measured in turn (A B C, C B A, …), through the real CLI. CPU: primary + workers, from /proc.
 * Where the sessions landed is read from the workers' log lines: a request to an object on the
 * other worker than the central's crosses Redis both ways.
 */
import { CliDaemon, type Placed } from '../lib/cli-daemon.js';
import { BenchRedis } from '../lib/redis-server.js';
import { makeRow, type Row } from '../lib/report.js';
import type { CentralResult } from '../lib/rr-central-main.js';
import { describeRound, rrProblems, rrRound, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

interface Target {
  readonly name: string;
  readonly daemon: CliDaemon;
}

interface Measured {
  readonly r: CentralResult;
  readonly cpuPerRoundTrip: number;
  /** Share of the objects that were not on the central's node in this round. */
  readonly crossShare: number;
  readonly placement: string;
  /** CPU of each process in the round: the primary first, then the workers. */
  readonly cpuSplit: string;
}

export async function workersRr(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const redis = await BenchRedis.start('workers-rr');
  const plan = [
    { name: '1 node', prefix: 'one:', nodeId: 'one' },
    { name: '2 workers rr', prefix: 'rr:', nodeId: 'rr', workers: 2, scheduling: 'rr' as const },
    { name: '2 workers none', prefix: 'none:', nodeId: 'none', workers: 2, scheduling: 'none' as const },
  ];
  const dirs = plan.map((p) => scratchDir(`workers-rr-${p.nodeId}`));
  const targets: Target[] = [];
  try {
    // Started side by side (separate clusters, nothing shared but the Redis server); each lands in `targets` to be stopped.
    const started = await Promise.allSettled(plan.map(async (p, i) => {
      const daemon = await CliDaemon.start({ dir: dirs[i]!.dir, objects: s.objects, redis: redis.url, keyPrefix: p.prefix, nodeId: p.nodeId, workers: p.workers, scheduling: p.scheduling });
      targets[i] = { name: p.name, daemon };
      o.log(`workers-rr: ${p.name}: port ${daemon.port}, pids ${daemon.pids.join(', ')}`);
    }));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const common = { ...s, inFlight: 32, objectProcs: o.objectProcs ?? 1, mode: 'daemon' as const };
    // One unmeasured round each: a fresh process's first round is JIT compilation (5-20x slower here).
    for (const t of targets) await rrRound({ ...common, port: t.daemon.port, warmupMs: 0, measureMs: s.warmupMs + s.measureMs });
    const results = new Map<string, Measured[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < s.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const m = await measure(t, { ...common, port: t.daemon.port });
        o.log(`${describeRound(`workers-rr ${t.name.padEnd(14)}`, m.r)}; CPU ${m.cpuPerRoundTrip.toFixed(2)} µs/rt (${m.cpuSplit}); sessions ${m.placement}`);
        results.get(t.name)!.push(m);
      }
    }
    const [one, rr, none] = targets.map((t) => results.get(t.name)!) as [Measured[], Measured[], Measured[]];
    const note = rrProblems([...one, ...rr, ...none].map((m) => m.r));
    const cross = (ms: Measured[]) => `objects on the other node than the central: ${ms.map((m) => `${Math.round(100 * m.crossShare)} %`).join(', ')} by round`;
    const rows: Row[] = [];
    for (const [label, ms] of [['2-workers-rr', rr], ['2-workers-none', none]] as const) {
      rows.push(
        makeRow(`workers-rr/${label}`, 'round trips/s', ms.map((m) => m.r.perSec), { kind: 'report' }, one.map((m) => m.r.perSec), note ?? cross(ms)),
        makeRow(`workers-rr/${label}-p99`, 'ms', ms.map((m) => m.r.p99), { kind: 'report' }, one.map((m) => m.r.p99)),
        makeRow(`workers-rr/${label}-cpu`, 'µs/round trip', ms.map((m) => m.cpuPerRoundTrip), { kind: 'report' }, one.map((m) => m.cpuPerRoundTrip),
          'CPU (user + system) of the primary and both workers against the one node, per round trip answered'),
      );
    }
    return rows;
  } finally {
    await Promise.all(targets.filter(Boolean).map((t) => t.daemon.stop()));
    await redis.stop();
    for (const d of dirs) d.cleanup();
  }
}

/** One tcp-rr round on `t`, with the CPU of all its processes and where the round's sessions landed. */
async function measure(t: Target, o: Parameters<typeof rrRound>[0]): Promise<Measured> {
  const before = snapshot(t.daemon.placed);
  const cpuBefore = t.daemon.cpuByProcess();
  const r = await rrRound(o);
  const perProcess = t.daemon.cpuByProcess().map((c, i) => c - cpuBefore[i]!);
  const cpu = perProcess.reduce((n, c) => n + c, 0);
  const answered = r.sent - r.outstandingAtEnd;
  const round = [...t.daemon.placed].map(([node, p]) => {
    const b = before.get(node) ?? { objects: 0, central: 0 };
    return [node, { objects: p.objects - b.objects, central: p.central - b.central }] as const;
  }).filter(([, p]) => p.objects + p.central > 0);
  const objects = round.reduce((n, [, p]) => n + p.objects, 0);
  const withCentral = round.find(([, p]) => p.central > 0)?.[1].objects ?? objects;
  return {
    r,
    cpuPerRoundTrip: answered > 0 ? cpu / answered : NaN,
    crossShare: objects > 0 ? (objects - withCentral) / objects : 0,
    placement: round.map(([node, p]) => `${node}: ${p.objects} objects${p.central ? ' + central' : ''}`).join(', '),
    cpuSplit: perProcess.map((c) => `${Math.round(c / 1000)} ms`).join(' + '),
  };
}

function snapshot(placed: ReadonlyMap<string, Placed>): Map<string, Placed> {
  return new Map([...placed].map(([k, v]) => [k, { ...v }]));
}

runIfMain(import.meta.url, workersRr);
