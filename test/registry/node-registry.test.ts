import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { MemoryNodeBacking, MemoryNodeRegistryEngine, NodeRegistry } from '../../src/registry/node-registry.js';
import { nodeRegistryContract } from '../contracts/node-registry.contract.js';

nodeRegistryContract(t, async (t) => {
  const clock = new ManualClock();
  const backing = new MemoryNodeBacking(clock);
  const opts = { heartbeatMs: 3_000, leaseMs: 7_000 };
  const nodes: NodeRegistry[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())));
  return {
    ...opts,
    node: (id, o) => {
      const n = new NodeRegistry(id, new MemoryNodeRegistryEngine(backing), o?.frozen ? new ManualClock() : clock, opts);
      nodes.push(n);
      return n;
    },
    // Small steps, each letting the heartbeats' promises settle, as the event loop would.
    elapse: async (ms) => {
      for (let left = ms; left > 0; left -= 100) {
        clock.advance(Math.min(100, left));
        await new Promise((r) => setImmediate(r));
      }
    },
    outage: async () => {
      backing.reachable = false;
      return async () => { backing.reachable = true; };
    },
  };
});

t.test('options: a lease no longer than the heartbeat is refused', async (t) => {
  const engine = new MemoryNodeRegistryEngine(new MemoryNodeBacking(new ManualClock()));
  t.throws(() => new NodeRegistry('a', engine, new ManualClock(), { heartbeatMs: 3_000, leaseMs: 3_000 }), { message: /leaseMs \(3000\) must exceed heartbeatMs \(3000\)/ });
});
