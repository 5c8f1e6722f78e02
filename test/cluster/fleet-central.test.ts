import t, { type Test } from 'tap';
import { CentralClient, ObjectClient, ascii } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const dev = device('fc-1');
const redis = await RedisServer.start(t);
let prefixes = 0;

async function nodes(t: Test, ids: string[], inbox: ClusterConfig['inbox'] = 'direct') {
  const keyPrefix = `fc${++prefixes}:`;
  const cluster = (nodeId: string): ClusterConfig => ({ redis: redis.url, nodeId, keyPrefix, commandTimeoutMs: 1000, heartbeatSec: 1, leaseSec: 2, inbox });
  return Promise.all(ids.map((id) => startDaemon(t, testConfig(t, { cluster: cluster(id) }), [dev], { logLevel: 'silent' })));
}

t.test("objects' requests to a kept central wait in its buffer and reach it, in order, where it resumes; its answers find their tracker", async (t) => {
  const [a, b] = await nodes(t, ['a', 'b']);
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY, reconnect: false, handler: () => ({ code: 0, payload: ascii('first') }) });
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('x') }) });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  central.destroy(); // dropped: the central's session is kept
  const engines = b.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(''))?.state === 'kept', "the central's session kept");
  const answers = Promise.all(['r1', 'r2', 'r3'].map((p) => obj.request(ascii(p))));
  await until(async () => (await engines.buffers.stats('')).count === 3, "three requests in the central's buffer");
  const seen: string[] = [];
  const again = new CentralClient({
    host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false,
    handler: (req) => { seen.push(`${req.uid}:${req.payload.data.toString()}`); return { code: 0, payload: ascii(`ok ${req.payload.data.toString()}`) }; },
  });
  t.teardown(() => again.destroy());
  await again.connect();
  t.same((await answers).map((r) => r.payload.data.toString()), ['ok r1', 'ok r2', 'ok r3'], "the object's three requests answered by the resumed central");
  t.same(seen, [`${dev.uid}:r1`, `${dev.uid}:r2`, `${dev.uid}:r3`], 'in order, with the object UID');
  void a;
});

for (const inbox of ['direct', 'redis'] as const) t.test(`a central taking over on another node: the older connection gets Close 0xA1; objects reach the new one, and it them (inbox: ${inbox})`, async (t) => {
  const [a, b, c] = await nodes(t, ['a', 'b', 'c'], inbox);
  const first = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY, reconnect: false, handler: () => ({ code: 0, payload: ascii('first') }) });
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('x') }) });
  t.teardown(() => { first.destroy(); obj.destroy(); });
  await first.connect();
  await obj.connect();
  t.equal((await obj.request(ascii('?'))).payload.data.toString(), 'first');
  const closed = new Promise<{ code?: number }>((r) => first.once('close', r));
  const second = new CentralClient({ host: '127.0.0.1', port: c.port, key: CENTRAL_KEY, reconnect: false, handler: () => ({ code: 0, payload: ascii('second') }) });
  t.teardown(() => second.destroy());
  await second.connect();
  t.equal((await closed).code, 0xa1, 'the central on a: Close 0xA1');
  t.equal((await obj.request(ascii('?'))).payload.data.toString(), 'second', 'the object on b reaches the central on c');
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => second.request(dev.uid, ascii(`q${i}`))));
  t.same(answers.map((r) => [r.code, r.payload.data.toString()]), Array.from({ length: 20 }, () => [0, 'x']), 'the central on c reaches the object on b: 20 requests, 20 answers');
});

t.test('one node with cluster.redis is durable: after a crash and a restart with its id, its sessions resume with what was buffered', async (t) => {
  const [solo] = await nodes(t, ['solo']);
  const obj = new ObjectClient({ host: '127.0.0.1', port: solo!.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const config = solo!.config;
  solo!.daemon.destroy(); // as kill -9: the entry still says connected at solo
  const again = await startDaemon(t, { ...testConfig(t, { cluster: config.cluster }), acl: config.acl }, [dev], { logLevel: 'silent' });
  const engines = again.daemon.internals.fleet!.engines;
  t.equal((await engines.directory.lookup(dev.uid))?.state, 'kept', "the restarted node kept its previous run's session");
  const central = new CentralClient({ host: '127.0.0.1', port: again.port, key: CENTRAL_KEY });
  t.teardown(() => central.destroy());
  await central.connect();
  const answer = central.request(dev.uid, ascii('after the crash'));
  await until(async () => (await engines.buffers.stats(dev.uid)).count === 1, 'buffered for the kept session');
  const back = new ObjectClient({ host: '127.0.0.1', port: again.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => back.destroy());
  await back.connect();
  t.equal((await answer).payload.data.toString(), 'after the crash', 'the device resumed and answered');
});

t.test('a second live process with the same node id refuses to start, naming the id', async (t) => {
  const [first] = await nodes(t, ['twin']);
  const { createConcentrator } = await import('../../src/daemon.js');
  const twin = createConcentrator(testConfig(t, { cluster: first!.config.cluster }), {});
  t.teardown(() => twin.destroy());
  await t.rejects(twin.start(), /cluster\.nodeId "twin" is in use by a live node/);
});
