/** Child process: one concentrator from a JSON config; reports its port and, on request, its memory and CPU time. */
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { createConcentrator } from '../../src/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { TurnBatchedDestination } from '../../src/observability/turn-batched-destination.js';
import { childPayload, failChild, fdLimit, lifeline, toParent, type Msg } from './child.js';
import { fromWire, type WireConfig } from './config.js';
import { startAllocationSampling, startGcProfile, stopAllocationSampling, stopGcProfile } from './gc-profile.js';

const gc = (globalThis as { gc?: () => void }).gc;
/** How long memory() waits after its forced GCs before it reads the RSS (bench/README.md, "RSS per session"). */
const MEM_SETTLE_MS = 500;
/** Forced GCs leave V8's heap sizing conservative for a long while: a phase measured after them is slowed. */
let forcedGcs = 0;

async function main(): Promise<void> {
  lifeline(2 * 60 * 60_000);
  const config = fromWire(childPayload<WireConfig>());
  // The daemon's own log (info: a line per session) goes to a file, as to journald, not into the
  // bench's stdout, written as the daemon writes stdout: synchronously, each turn's lines together.
  const destination = new TurnBatchedDestination(pino.destination({ dest: join(config.baseDir, 'daemon.log'), sync: true }));
  const daemon = createConcentrator(config, { logger: createLogger({ level: config.log.level, destination }) });
  const addr = await daemon.start();
  process.on('message', (m: Msg) => {
    if (m.type === 'mem') {
      // Two passes: the first frees, the second lets finalisers' memory go too.
      gc?.();
      gc?.();
      forcedGcs += 2;
      // Read once V8's background unmapper has given back the pages those GCs freed: read at
      // once, the RSS of a daemon holding 5 000 sessions was ~6 MiB higher (1.2 KiB a session).
      setTimeout(() => toParent({
        type: 'mem', usage: process.memoryUsage(), youngBytes: youngGeneration(), connections: daemon.internals.host.connectionCount, gc: gc !== undefined,
      }), MEM_SETTLE_MS);
    } else if (m.type === 'heap') {
      // A heap snapshot after two forced GCs (bench/lib/session-heap.ts: what a session holds).
      gc?.();
      gc?.();
      forcedGcs += 2;
      toParent({ type: 'heap', path: writeHeapSnapshot(String(m.path)), connections: daemon.internals.host.connectionCount });
    } else if (m.type === 'cpu') {
      toParent({ type: 'cpu', usage: process.cpuUsage(), forcedGcs });
    } else if (m.type === 'gc-start') {
      startGcProfile();
    } else if (m.type === 'gc-stop') {
      toParent({ type: 'gc', summary: stopGcProfile() });
    } else if (m.type === 'alloc-start') {
      void startAllocationSampling(512, m.survivors === true).then(() => toParent({ type: 'alloc-started' }), failChild);
    } else if (m.type === 'alloc-stop') {
      void stopAllocationSampling().then((r) => toParent({ type: 'alloc', ...r }), failChild);
    } else if (m.type === 'counters') {
      // Telemetry and webhook counters, so a round can say where datagrams went.
      void daemon.internals.metrics.registry.getMetricsAsJSON().then((all) => toParent({
        type: 'counters',
        metrics: all.filter((x) => /telemetry|webhook/.test(x.name)).map((x) => ({ name: x.name, values: x.values.filter((v) => v.value !== 0).map((v) => ({ labels: v.labels, value: v.value })) })),
      }));
    } else if (m.type === 'stop') {
      void daemon.close().finally(() => {
        toParent({ type: 'stopped' });
        // A normal exit, so --cpu-prof writes its profile.
        process.disconnect?.();
        process.exit(0);
      });
    }
  });
  toParent({
    type: 'ready', port: addr.tcp.port, httpPort: addr.http?.port, udpPort: addr.udp?.port, fdLimit: await fdLimit(), pid: process.pid,
  });
}

/**
 * Bytes committed to V8's young generation (new space, new large objects). It grows to its cap
 * (32 MiB here) under any burst of allocation, at start-up or while sessions open, and forced
 * GCs do not give it back: a fixed cost, not one that scales with the sessions held.
 */
function youngGeneration(): number {
  return getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
    .reduce((sum, s) => sum + s.space_size, 0);
}

main().catch(failChild);
