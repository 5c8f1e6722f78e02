import t, { type Test } from 'tap';
import { ManualClock, systemClock } from '../../src/clock.js';
import { commandConnection } from '../../src/redis/connect.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { RedisNodeRegistryEngine } from '../../src/redis/redis-node-registry.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { nodeRegistryContract } from '../contracts/node-registry.contract.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const server = await RedisServer.start(t);
let fleets = 0;
// Short periods: Redis expires leases by its own clock, so the tests wait for real.
const timing = { heartbeatMs: 100, leaseMs: 500, reapClaimMs: 5_000 };

async function engine(t: Test, keys: RedisKeys, name: string): Promise<RedisNodeRegistryEngine> {
  const cmd = commandConnection({ url: server.url, commandTimeoutMs: 1_000 }, name);
  cmd.on('error', () => {}); // Redis stopped on purpose: the heartbeat reports it as a lapse
  await cmd.connect();
  t.teardown(() => cmd.disconnect());
  return new RedisNodeRegistryEngine(cmd, keys);
}

function node(t: Test, keys: RedisKeys, id: string, frozen = false, e?: Promise<RedisNodeRegistryEngine>): NodeRegistry {
  const engineP = e ?? engine(t, keys, `test-${id}`);
  // The registry needs its engine at construction: a proxy that awaits the connection first.
  const lazy = {
    announce: async (...a: Parameters<RedisNodeRegistryEngine['announce']>) => (await engineP).announce(...a),
    list: async () => (await engineP).list(),
    claimReap: async (...a: Parameters<RedisNodeRegistryEngine['claimReap']>) => (await engineP).claimReap(...a),
    forget: async (...a: Parameters<RedisNodeRegistryEngine['forget']>) => (await engineP).forget(...a),
    leave: async (...a: Parameters<RedisNodeRegistryEngine['leave']>) => (await engineP).leave(...a),
    ping: async () => (await engineP).ping(),
  };
  const n = new NodeRegistry(id, lazy, frozen ? new ManualClock() : systemClock, timing);
  t.teardown(() => n.stop());
  return n;
}

nodeRegistryContract(t, async (t) => {
  const keys = new RedisKeys(`t${++fleets}:`);
  return {
    ...timing,
    node: (id, o) => node(t, keys, id, o?.frozen),
    elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
    outage: async () => {
      await server.stop();
      return () => server.resume();
    },
  };
});

t.test('a killed node\'s lease key expires by itself; its entry waits for a reaper', async (t) => {
  const keys = new RedisKeys(`kill${++fleets}:`);
  const r = server.client(t);
  const dying = node(t, keys, 'd', true);
  await dying.start({ address: 'd:1', sessions: 5, protocol: 1 });
  const ttl = await r.pttl(keys.nodeLease('d'));
  t.ok(ttl > 0 && ttl <= timing.leaseMs, `the lease carries a Redis expiry (${ttl} ms)`);
  t.equal(await r.get(keys.nodeLease('d')), dying.incarnation);
  await until(async () => (await r.exists(keys.nodeLease('d'))) === 0, 'the lease key expired', 2_000);
  t.match(JSON.parse((await r.hget(keys.nodeList, 'd'))!), { node: 'd', sessions: 5, address: 'd:1' }, 'listed, to be reaped');
  const survivor = node(t, keys, 's');
  await survivor.start({ address: 's:1', sessions: 0, protocol: 1 });
  const [dead] = await survivor.dead();
  t.ok(await survivor.reap(dead!), 'reaped');
  const claim = await r.pttl(keys.nodeReap('d', dead!.incarnation));
  t.ok(claim > 0 && claim <= timing.reapClaimMs, `the reap claim expires (${claim} ms)`);
  await survivor.forget(dead!);
  t.equal(await r.hexists(keys.nodeList, 'd'), 0, 'forgotten: nothing of d is left without an expiry');
});

t.test('after redis-server is stopped and restarted, the heartbeat resumes by itself', async (t) => {
  const keys = new RedisKeys(`restart${++fleets}:`);
  const r = server.client(t);
  const a = node(t, keys, 'a');
  await a.start({ address: 'a:1', sessions: 0, protocol: 1 });
  await server.stop();
  await until(() => a.state === 'lapsed', 'the lapse seen within the lease', 2_000);
  await server.resume();
  await until(() => a.state === 'live', 'live again once Redis is back', 5_000);
  await until(async () => (await r.get(keys.nodeLease('a')).catch(() => null)) === a.incarnation, 'the lease key rewritten by the heartbeat', 2_000);
  const ttl = await r.pttl(keys.nodeLease('a'));
  t.ok(ttl > 0 && ttl <= timing.leaseMs, `and it still expires (${ttl} ms)`);
});

t.test('each heartbeat times one PING to Redis and reports it (the round-trip metric)', async (t) => {
  const keys = new RedisKeys(`ping${++fleets}:`);
  const a = node(t, keys, 'a');
  const seen: number[] = [];
  a.onRoundTrip((ms) => seen.push(ms));
  await a.start({ address: 'a:1', sessions: 0, protocol: 1 });
  await until(() => seen.length >= 3, 'three heartbeats timed', 3_000);
  for (const ms of seen) t.ok(ms > 0 && ms < 1_000, `a round trip of ${ms.toFixed(3)} ms`);
});
