import t from 'tap';
import { CentralClient, ObjectClient, ascii } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

// CLUSTER.md guarantee 8 (aedes-persistence-redis#45): no key is left without an owner or an expiry.
t.test('after sessions, buffered requests, tokens and a node crash, every key has an expiry or a live owner', async (t) => {
  const redis = await RedisServer.start(t);
  const keyPrefix = 'own:';
  const cluster = (nodeId: string): ClusterConfig => ({ redis: redis.url, nodeId, keyPrefix, commandTimeoutMs: 1000, heartbeatSec: 1, leaseSec: 2 });
  const devs = [device('own-1'), device('own-2'), device('own-3')];
  const over = { udp: { enabled: true } };
  const a = await startDaemon(t, testConfig(t, { ...over, cluster: cluster('a') }), devs, { logLevel: 'silent' });
  const b = await startDaemon(t, testConfig(t, { ...over, cluster: cluster('b') }), devs, { logLevel: 'silent' });
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY });
  const objs = devs.map((d, i) => new ObjectClient({ host: '127.0.0.1', port: i === 0 ? a.port : b.port, uid: d.uid, key: d.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) }));
  t.teardown(() => { central.destroy(); for (const o of objs) o.destroy(); });
  await central.connect();
  const tokens = objs.map((o) => new Promise((r) => o.once('token', r)));
  for (const o of objs) await o.connect();
  await Promise.all(tokens);
  for (const d of devs) await central.request(d.uid, ascii('hello'));
  objs[1]!.destroy(); // own-2 kept on b, with a request buffered
  const dir = a.daemon.internals.fleet!.engines.directory;
  await until(async () => (await dir.lookup('own-2'))?.state === 'kept', 'own-2 kept');
  void central.request('own-2', ascii('waits')).catch(() => {});
  await until(async () => (await a.daemon.internals.fleet!.engines.buffers.stats('own-2')).count === 1, 'buffered');
  b.daemon.destroy(); // b crashes holding own-3; a reaps it
  await until(async () => (await dir.lookup('own-3'))?.state === 'kept', "a reaps b and keeps own-3", 8000);
  await until(async () => (await a.daemon.internals.fleet!.engines.registry.dead()).length === 0, 'b forgotten once reaped');

  const probe = redis.client(t);
  const keys = (await probe.keys(`${keyPrefix}*`)).sort();
  const live = new Set(Object.keys(await probe.hgetall(`${keyPrefix}nodes`)));
  t.same([...live], ['a'], 'only a is listed once b was reaped');
  const orphans: string[] = [];
  for (const k of keys) {
    if ((await probe.pttl(k)) > 0) continue;
    const name = k.slice(keyPrefix.length);
    if (['sessions', 'kept', 'tokens', 'nodes', '{acl}:entries', '{acl}:version'].includes(name)) continue; // the fleet's indexes and ACL
    const held = /^node:(.+):held$/.exec(name);
    if (held && live.has(held[1]!)) continue; // a live node's set
    if (name.startsWith('s:{')) {
      const e = await probe.hgetall(k);
      if (e.state === 'connected' && live.has(e.node!)) continue; // owned by its live node
    }
    orphans.push(`${name} (ttl ${await probe.pttl(k)})`);
  }
  t.same(orphans, [], `every one of the ${keys.length} keys has an expiry or a live owner`);
  t.ok(keys.some((k) => k.includes('b:{')), 'the kept buffer is among them (with its expiry)');
});
