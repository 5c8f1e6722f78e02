/**
 * redis-engine: tcp-rr's load (no relay) on one daemon with `cluster` set (the Redis engine, a
 * single node on a real redis-server) against one daemon without it (the in-memory engine),
 * interleaved (ABBA) in the same run. The Redis commands of each Redis-engine round are counted.
 */
import { commandsRow, countedRound, cpuRound, nodeProfDir } from '../lib/cluster-round.js';
import { benchCluster, benchConfig } from '../lib/config.js';
import { startDaemonProcess, type DaemonProcess } from '../lib/daemon-process.js';
import { BENCH_APPENDFSYNC, BenchRedis } from '../lib/redis-server.js';
import { makeRow, type Row } from '../lib/report.js';
import { interleave, rrProblems, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

export async function redisEngine(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const redis = await BenchRedis.start('redis-engine');
  const dirs = [scratchDir('redis-engine-redis'), scratchDir('redis-engine-memory')];
  const daemons: DaemonProcess[] = [];
  try {
    // Started together (nothing shared between them); each is stopped in `finally` whatever the other did.
    const started = await Promise.allSettled([
      startDaemonProcess(
        benchConfig({ dir: dirs[0]!.dir, objects: s.objects, cluster: benchCluster(redis.url, 'solo', 'bench-solo:') }),
        { cpuProfDir: nodeProfDir(o.cpuProfDir, 'redis-engine') },
      ),
      startDaemonProcess(benchConfig({ dir: dirs[1]!.dir, objects: s.objects }), { cpuProfDir: nodeProfDir(o.cpuProfDir, 'memory-engine') }),
    ]);
    for (const r of started) if (r.status === 'fulfilled') daemons.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const [withRedis, inMemory] = daemons as [DaemonProcess, DaemonProcess];
    o.log(`redis-engine: redis-server ${redis.port} (AOF, appendfsync ${BENCH_APPENDFSYNC}); Redis engine pid ${withRedis.pid}, in-memory pid ${inMemory.pid}`);
    const common = { ...s, inFlight: 32, objectProcs: o.objectProcs ?? 1, mode: 'daemon' as const };
    const { a: redisRounds, b: memoryRounds } = await interleave(
      s.rounds,
      () => countedRound(redis, { ...common, port: withRedis.port }, 'redis-engine redis ', o.log, [withRedis]),
      () => cpuRound({ ...common, port: inMemory.port }, 'redis-engine memory', o.log, inMemory),
    );
    const r = redisRounds.map((x) => x.r);
    const memory = memoryRounds.map((x) => x.r);
    const note = rrProblems([...r, ...memory]);
    return [
      makeRow('redis-engine', 'round trips/s', r.map((x) => x.perSec), { kind: 'report' }, memory.map((x) => x.perSec), note),
      makeRow('redis-engine/p99', 'ms', r.map((x) => x.p99), { kind: 'report' }, memory.map((x) => x.p99)),
      makeRow('redis-engine/p50', 'ms', r.map((x) => x.p50), { kind: 'report' }, memory.map((x) => x.p50)),
      makeRow('redis-engine/daemon-cpu', 'µs/round trip', redisRounds.map((x) => x.cpuPerRoundTrip), { kind: 'report' }, memoryRounds.map((x) => x.cpuPerRoundTrip),
        'CPU (user + system) of the measured daemon in the round, per round trip answered'),
      commandsRow('redis-engine/redis-commands', redisRounds),
    ];
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await redis.stop();
    for (const d of dirs) d.cleanup();
  }
}

runIfMain(import.meta.url, redisEngine);
