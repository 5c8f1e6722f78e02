/**
 * `node dist/bench/lib/fixed-cluster-rr.js [--requests N] [--rounds R] [--cpu-prof DIR] [--cross-only]`:
 * cluster-rr's nodes a and b (one redis-server, direct links) under a fixed, bounded tcp-rr
 * load (N round trips, 32 in flight per object, 10 objects, 32-byte payloads), cross-node (the
 * central on a, the objects on b) and same-node (both on a) interleaved after one unmeasured
 * round of each, and both daemons' CPU (process.cpuUsage, user + system) per round trip
 * answered: cluster-rr's CPU row without its wall-clock window, for before/after comparisons.
 * Also, from /proc (Linux), the read and write syscalls and the context switches of both daemons per round trip.
 */

/** [read syscalls, write syscalls, context switches (voluntary + not)] of a process so far; zeros where /proc has none. */
function procCounts(pid: number): [number, number, number] {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return [field(io, 'syscr'), field(io, 'syscw'), field(st, 'voluntary_ctxt_switches') + field(st, 'nonvoluntary_ctxt_switches')];
  } catch {
    return [0, 0, 0];
  }
}
import { readFileSync } from 'node:fs';
import { benchCluster, benchConfig } from './config.js';
import { startDaemonProcess, type DaemonProcess } from './daemon-process.js';
import { nodeProfDir } from './cluster-round.js';
import { BenchRedis } from './redis-server.js';
import { rrRound } from './rr.js';
import { scratchDir } from './scenario.js';
import { quantile } from './stats.js';

function perK(before: Array<[number, number, number]>, after: Array<[number, number, number]>, i: number, answered: number): string {
  return before.map((b, n) => (1000 * (after[n]![i] - b[i]) / answered).toFixed(0)).join(' + ');
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1]!;
}

async function main(): Promise<void> {
  const requests = Number(arg('--requests', '200000'));
  const rounds = Number(arg('--rounds', '3'));
  const cpuProfDir = process.argv.includes('--cpu-prof') ? arg('--cpu-prof', '') : undefined;
  const crossOnly = process.argv.includes('--cross-only');
  const objects = 10;
  const redis = await BenchRedis.start('fixed-cluster-rr');
  const dirs = ['a', 'b'].map((id) => scratchDir(`fixed-cluster-rr-${id}`));
  const nodes: DaemonProcess[] = [];
  try {
    for (const [i, id] of ['a', 'b'].entries()) {
      const config = benchConfig({ dir: dirs[i]!.dir, objects, cluster: benchCluster(redis.url, id) });
      nodes.push(await startDaemonProcess(config, { cpuProfDir: nodeProfDir(cpuProfDir, `node-${id}`) }));
    }
    const [a, b] = nodes as [DaemonProcess, DaemonProcess];
    process.stdout.write(`node a pid ${a.pid}, node b pid ${b.pid}\n`);
    const round = async (objectPort: number, label: string, r: number): Promise<number> => {
      const cpu0 = await Promise.all(nodes.map((n) => n.cpu()));
      const proc0 = nodes.map((n) => procCounts(n.pid));
      const res = await rrRound({
        mode: 'daemon', port: a.port, objectPort, objects, inFlight: 32, payloadBytes: 32,
        warmupMs: 0, measureMs: 600_000, maxRequests: requests, objectProcs: 1,
      });
      const cpu1 = await Promise.all(nodes.map((n) => n.cpu()));
      const proc1 = nodes.map((n) => procCounts(n.pid));
      const answered = res.sent - res.outstandingAtEnd;
      const per = cpu1.map((c, i) => (c.user + c.system - cpu0[i]!.user - cpu0[i]!.system) / answered);
      const sys = cpu1.map((c, i) => (c.system - cpu0[i]!.system) / answered);
      const total = per.reduce((x, y) => x + y, 0);
      process.stdout.write(`round ${r} ${label}: ${answered} answered, errors ${res.errors}, ${total.toFixed(3)} µs CPU per round trip `
        + `(a ${per[0]!.toFixed(3)}, b ${per[1]!.toFixed(3)}; system a ${sys[0]!.toFixed(3)} b ${sys[1]!.toFixed(3)}), p50 ${res.p50.toFixed(3)} p99 ${res.p99.toFixed(3)} ms; `
        + `per 1 000 rt (a + b): reads ${perK(proc0, proc1, 0, answered)}, writes ${perK(proc0, proc1, 1, answered)}, context switches ${perK(proc0, proc1, 2, answered)}\n`);
      return total;
    };
    await round(b.port, 'cross (warm-up)', -1);
    if (!crossOnly) await round(a.port, 'same (warm-up)', -1);
    const cross: number[] = [];
    const same: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = crossOnly ? ['cross'] : r % 2 === 0 ? ['cross', 'same'] : ['same', 'cross'];
      for (const k of order) (k === 'cross' ? cross : same).push(await round(k === 'cross' ? b.port : a.port, k, r));
    }
    const med = (xs: number[]): string => {
      const s = [...xs].sort((x, y) => x - y);
      return s.length ? `${quantile(s, 0.5).toFixed(3)} (${s[0]!.toFixed(3)}–${s.at(-1)!.toFixed(3)})` : '-';
    };
    process.stdout.write(`cross-node median ${med(cross)} µs per round trip; same-node ${med(same)}\n`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    for (const d of dirs) d.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
