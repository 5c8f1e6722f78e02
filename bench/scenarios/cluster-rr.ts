/**
 * cluster-rr: tcp-rr's load (1 central, 10 objects × 32 in flight, 32-byte payloads, objects
 * echo) on a two-node cluster (nodes a and b, daemon children) on one real redis-server.
 * Cross-node: the central on a, the objects on b (every request and response through the
 * nodes' inboxes in Redis). Baseline: same-node, the central and the objects on a, on the same
 * cluster, interleaved (ABBA). The Redis commands of each round are counted (INFO commandstats).
 */
import { commandsRow, countedRound, nodeProfDir, type CountedRound } from '../lib/cluster-round.js';
import { benchCluster, benchConfig } from '../lib/config.js';
import { startDaemonProcess, type DaemonProcess } from '../lib/daemon-process.js';
import { BENCH_APPENDFSYNC, BenchRedis } from '../lib/redis-server.js';
import { makeRow, type Row } from '../lib/report.js';
import { interleave, rrProblems, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

export async function clusterRr(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const redis = await BenchRedis.start('cluster-rr');
  const dirs = [scratchDir('cluster-rr-a'), scratchDir('cluster-rr-b')];
  const nodes: DaemonProcess[] = [];
  try {
    // One after the other: the first node seeds the cluster's ACL from its file, the second finds it there.
    for (const [i, id] of ['a', 'b'].entries()) {
      const config = benchConfig({ dir: dirs[i]!.dir, objects: s.objects, cluster: benchCluster(redis.url, id) });
      nodes.push(await startDaemonProcess(config, { cpuProfDir: nodeProfDir(o.cpuProfDir, `node-${id}`) }));
    }
    const [a, b] = nodes as [DaemonProcess, DaemonProcess];
    o.log(`cluster-rr: redis-server ${redis.port} (AOF, appendfsync ${BENCH_APPENDFSYNC}); node a pid ${a.pid} port ${a.port}, node b pid ${b.pid} port ${b.port}`);
    const common = { ...s, inFlight: 32, objectProcs: o.objectProcs ?? 1, mode: 'daemon' as const, port: a.port };
    const { a: cross, b: same } = await interleave<CountedRound>(
      s.rounds,
      () => countedRound(redis, { ...common, objectPort: b.port }, 'cluster-rr cross-node', o.log, nodes),
      () => countedRound(redis, { ...common, objectPort: a.port }, 'cluster-rr same-node ', o.log, nodes),
    );
    const usedMemory = await redis.usedMemory();
    const keys = await redis.dbSize();
    o.log(`cluster-rr: Redis used_memory ${usedMemory} bytes, ${keys} keys at the end`);
    const note = rrProblems([...cross, ...same].map((x) => x.r));
    return [
      makeRow('cluster-rr/cross-node', 'round trips/s', cross.map((x) => x.r.perSec), { kind: 'ratio>=', value: 0.5 }, same.map((x) => x.r.perSec), note),
      makeRow('cluster-rr/cross-node-p99', 'ms', cross.map((x) => x.r.p99), { kind: 'ratio<=', value: 3 }, same.map((x) => x.r.p99)),
      makeRow('cluster-rr/cross-node-p50', 'ms', cross.map((x) => x.r.p50), { kind: 'report' }, same.map((x) => x.r.p50)),
      makeRow('cluster-rr/cross-node-cpu', 'µs/round trip', cross.map((x) => x.cpuPerRoundTrip), { kind: 'report' }, same.map((x) => x.cpuPerRoundTrip),
        'CPU (user + system) of both daemons in the round, per round trip answered'),
      commandsRow('cluster-rr/redis-commands/cross-node', cross),
      commandsRow('cluster-rr/redis-commands/same-node', same),
      makeRow('cluster-rr/redis-used-memory', 'MiB', [usedMemory / (1 << 20)], { kind: 'report' }, undefined,
        `used_memory ${usedMemory} bytes, ${keys} keys after the last round (sessions ended, inboxes trimmed)`),
    ];
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    for (const d of dirs) d.cleanup();
  }
}

runIfMain(import.meta.url, clusterRr);
