/**
 * cluster-rr: tcp-rr's load (1 central, 10 objects × 32 in flight, 32-byte payloads, objects
 * echo) on a two-node cluster (nodes a and b, daemon children) on one real redis-server.
 * Cross-node: the central on a, the objects on b (every request and response over the nodes'
 * direct links, cluster.inbox: direct). Baseline: same-node, the central and the objects on a,
 * on the same cluster, interleaved. A second two-node cluster on the same Redis (nodes c and d,
 * cluster.inbox: redis) runs the cross-node rounds through Redis streams, in the same rotation:
 * what an operator pays for having only Redis between nodes. The Redis commands of each round
 * are counted (INFO commandstats).
 */
import { commandsRow, countedRound, nodeProfDir, type CountedRound } from '../lib/cluster-round.js';
import { benchCluster, benchConfig } from '../lib/config.js';
import { startDaemonProcess, type DaemonProcess } from '../lib/daemon-process.js';
import { BENCH_APPENDFSYNC, BenchRedis } from '../lib/redis-server.js';
import { makeRow, type Row } from '../lib/report.js';
import { interleaveAll, rrProblems, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

export async function clusterRr(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const redis = await BenchRedis.start('cluster-rr');
  const ids = ['a', 'b', 'c', 'd'];
  const dirs = ids.map((id) => scratchDir(`cluster-rr-${id}`));
  const nodes: DaemonProcess[] = [];
  try {
    // One after the other: the first node of each cluster seeds its ACL from its file, the second finds it there.
    for (const [i, id] of ids.entries()) {
      const cluster = i < 2 ? benchCluster(redis.url, id) : { ...benchCluster(redis.url, id, 'bench-streams:'), inbox: 'redis' as const };
      const config = benchConfig({ dir: dirs[i]!.dir, objects: s.objects, cluster });
      nodes.push(await startDaemonProcess(config, { cpuProfDir: i < 2 ? nodeProfDir(o.cpuProfDir, `node-${id}`) : undefined }));
    }
    const [a, b, c, d] = nodes as [DaemonProcess, DaemonProcess, DaemonProcess, DaemonProcess];
    o.log(`cluster-rr: redis-server ${redis.port} (AOF, appendfsync ${BENCH_APPENDFSYNC}); direct links: node a pid ${a.pid} port ${a.port}, node b pid ${b.pid} port ${b.port}; streams: node c pid ${c.pid}, node d pid ${d.pid}`);
    const common = { ...s, inFlight: 32, objectProcs: o.objectProcs ?? 1, mode: 'daemon' as const, port: a.port };
    const [cross, same, streams] = await interleaveAll<CountedRound>(s.rounds, [
      () => countedRound(redis, { ...common, objectPort: b.port }, 'cluster-rr cross-node', o.log, [a, b]),
      () => countedRound(redis, { ...common, objectPort: a.port }, 'cluster-rr same-node ', o.log, [a, b]),
      () => countedRound(redis, { ...common, port: c.port, objectPort: d.port }, 'cluster-rr streams   ', o.log, [c, d]),
    ]) as [CountedRound[], CountedRound[], CountedRound[]];
    const usedMemory = await redis.usedMemory();
    const keys = await redis.dbSize();
    o.log(`cluster-rr: Redis used_memory ${usedMemory} bytes, ${keys} keys at the end`);
    const note = rrProblems([...cross, ...same, ...streams].map((x) => x.r));
    return [
      makeRow('cluster-rr/cross-node', 'round trips/s', cross.map((x) => x.r.perSec), { kind: 'ratio>=', value: 0.5 }, same.map((x) => x.r.perSec), note),
      makeRow('cluster-rr/cross-node-p99', 'ms', cross.map((x) => x.r.p99), { kind: 'ratio<=', value: 3 }, same.map((x) => x.r.p99)),
      makeRow('cluster-rr/cross-node-p50', 'ms', cross.map((x) => x.r.p50), { kind: 'report' }, same.map((x) => x.r.p50)),
      makeRow('cluster-rr/cross-node-cpu', 'µs/round trip', cross.map((x) => x.cpuPerRoundTrip), { kind: 'report' }, same.map((x) => x.cpuPerRoundTrip),
        'CPU (user + system) of both daemons in the round, per round trip answered'),
      makeRow('cluster-rr/cross-node-streams', 'round trips/s', streams.map((x) => x.r.perSec), { kind: 'report' }, same.map((x) => x.r.perSec),
        'cluster.inbox: redis (nodes c and d): the same cross-node load through Redis streams; baseline same-node on a'),
      makeRow('cluster-rr/cross-node-streams-cpu', 'µs/round trip', streams.map((x) => x.cpuPerRoundTrip), { kind: 'report' }, same.map((x) => x.cpuPerRoundTrip)),
      commandsRow('cluster-rr/redis-commands/cross-node', cross),
      commandsRow('cluster-rr/redis-commands/cross-node-streams', streams),
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
