/** Child process: one concentrator from a JSON config; reports its port and, on request, its memory. */
import { createConcentrator } from '../../src/daemon.js';
import { childPayload, failChild, fdLimit, lifeline, toParent, type Msg } from './child.js';
import { fromWire, type WireConfig } from './config.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  lifeline(2 * 60 * 60_000);
  const config = fromWire(childPayload<WireConfig>());
  const daemon = createConcentrator(config);
  const addr = await daemon.start();
  process.on('message', (m: Msg) => {
    if (m.type === 'mem') {
      // Two passes: the first frees, the second lets finalisers' memory go too.
      gc?.();
      gc?.();
      toParent({ type: 'mem', usage: process.memoryUsage(), connections: daemon.internals.host.connectionCount, gc: gc !== undefined });
    } else if (m.type === 'cpu') {
      const u = process.cpuUsage();
      toParent({ type: 'cpu', micros: u.user + u.system });
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

main().catch(failChild);
