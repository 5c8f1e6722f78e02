/** Child process: one concentrator from a JSON config; reports its port and, on request, its memory and CPU time. */
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { createConcentrator } from '../../src/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { TurnBatchedDestination } from '../../src/observability/turn-batched-destination.js';
import { childPayload, failChild, fdLimit, lifeline, toParent, type Msg } from './child.js';
import { fromWire, type WireConfig } from './config.js';
import { MEM_SETTLE_MS, forceGcs, youngGenerationBytes } from './settled-memory.js';
import { startAllocationSampling, startGcProfile, stopAllocationSampling, stopGcProfile } from './gc-profile.js';

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
      const forced = collect();
      // Read once the pages those GCs freed are given back (settled-memory.ts).
      setTimeout(() => toParent({
        type: 'mem', usage: process.memoryUsage(), youngBytes: youngGenerationBytes(), connections: daemon.internals.host.connectionCount, gc: forced,
      }), MEM_SETTLE_MS);
    } else if (m.type === 'heap') {
      // A heap snapshot after two forced GCs (bench/lib/session-heap.ts: what a session holds).
      collect();
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
/** Two forced GCs, counted. */
function collect(): boolean {
  if (!forceGcs()) return false;
  forcedGcs += 2;
  return true;
}

main().catch(failChild);
