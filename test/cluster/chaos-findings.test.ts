import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { CentralClient, ObjectClient, ascii, type IncomingRequest } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_UID } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

/**
 * What the chaos test (chaos.test.ts) found, each reduced to the smallest scenario that shows it.
 * Each failed against the first wiring and passes since its fix in src/cluster/fleet.ts; each
 * says what it expects and why.
 */

const dev = device('finding-1');
const redis = await RedisServer.start(t);
let prefixes = 0;

function cluster(nodeId: string, prefix: string, url = redis.url): ClusterConfig {
  return { redis: url, nodeId, keyPrefix: prefix, commandTimeoutMs: 500, heartbeatSec: 1, leaseSec: 2 };
}

async function twoNodes(t: Test, url = redis.url) {
  const prefix = `cf${++prefixes}:`;
  const over = (id: string) => testConfig(t, { cluster: cluster(id, prefix, url), http: { enabled: true }, tcp: { requestTimeoutSec: 1 } });
  const a = await startDaemon(t, over('a'), [dev], { logLevel: 'silent' });
  const b = await startDaemon(t, over('b'), [dev], { logLevel: 'silent' });
  return { a, b };
}

t.test('finding: a request tracked on one node and buffered by another is delivered after its origin got 0xA1 (PROTOCOL §6)', async (t) => {
  // Object on a, central on b. The object's request is tracked on a; a's cached route (1 s) still
  // points at b after the central dropped there, so b routes it again and buffers it for the kept
  // central — with a tracking reference to a, and nothing telling a that it sits in a buffer.
  const { a, b } = await twoNodes(t);
  const seen: string[] = [];
  const handler = (req: IncomingRequest) => {
    seen.push(req.payload.data.toString());
    return { code: 0, payload: req.payload };
  };
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, requestTimeoutMs: 10_000 });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  t.equal((await obj.request(ascii('warm'))).code, 0, 'the object reaches the central on b (a caches the route)');
  central.destroy(); // an unexpected drop: the central's session is kept
  await until(() => b.daemon.internals.sessions.get(CENTRAL_UID) === undefined, 'the central gone from b');
  const engines = b.daemon.internals.fleet!.engines;
  const answer = obj.request(ascii('buffered'));
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 1, 'the request buffered for the kept central');
  t.equal((await answer).code, 0xa1, 'its origin got 0xA1 at the request timeout (1 s)');
  // Expected: answered means out of the buffer. Got: it stays, and is replayed to the next central.
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 0, 'the answered request removed from the buffer', 3000)
    .then(() => t.pass('the buffer is empty once its origin was answered'), (err: Error) => t.fail(err.message));
  const again = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  t.teardown(() => again.destroy());
  await again.connect();
  t.equal((await obj.request(ascii('after'))).code, 0, 'a new request reaches the resumed central');
  t.same(seen, ['warm', 'after'], 'the central never got the request its origin saw answered 0xA1');
});

t.test('finding: a node whose lease lapsed while Redis was away from it is reaped, and its still-connected sessions stay unroutable', async (t) => {
  // Node a alone loses Redis for longer than its lease (its command connection is killed over and
  // over), b reaps it and marks a's sessions kept. a comes back live, but nothing re-claims the
  // sessions it still holds: requests from b to the object connected at a are buffered for a
  // "kept" session that is in fact connected, and answered 0xA1 forever.
  const own = await RedisServer.start(t);
  const { a, b } = await twoNodes(t, own.url);
  const obj = new ObjectClient({
    host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key,
    // If the fix closes a's connections instead of re-claiming them, the object comes back by itself.
    reconnect: { minMs: 50, maxMs: 200, takeoverMinMs: 50 },
    handler: (req) => ({ code: 0, payload: req.payload }),
  });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const atB = `http://127.0.0.1:${b.daemon.addresses!.http!.port}`;
  const ask = () => call(atB, '/request', { UID: dev.uid, Timeout: 1, Format: 'ASCII', Payload: 'ping' });
  t.same((await ask()).json, { Code: 0, Format: 'ASCII', Payload: 'ping' }, 'b reaches the object on a');

  const admin = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  t.teardown(() => admin.disconnect());
  const fleetA = a.daemon.internals.fleet!;
  const began = Date.now();
  // Cut a's command connection (not b's) until a knows it lapsed and b reaped it.
  while (Date.now() - began < 8000) {
    const list = String(await admin.client('LIST'));
    for (const line of list.split('\n')) {
      const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
      if (id && / name=iotsocket:a:cmd /.test(line)) await admin.client('KILL', 'ID', id).catch(() => {});
    }
    if (fleetA.engines.registry.state === 'lapsed' && (await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid))?.state === 'kept') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(fleetA.engines.registry.state, 'lapsed', 'a knows its lease lapsed');
  t.equal((await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid))?.state, 'kept', "b reaped a: the object's entry says kept");
  await until(() => fleetA.live, 'a live again once Redis is back for it', 10_000);

  // Expected: within a few heartbeats the object is routable again from b (a re-claims what it
  // holds, or closes it so that the device reconnects). Got: 0xA1 'timeout' for as long as it stays connected.
  let last: unknown;
  await until(async () => {
    last = (await ask()).json;
    return (last as { Code?: number }).Code === 0;
  }, 'the object on a routable from b again', 8000).then(() => t.pass('routable again'), (err: Error) => t.fail(`${err.message}; last answer ${JSON.stringify(last)}`));
  const entry = await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid);
  t.same([entry?.state, entry?.node], ['connected', obj.connected ? 'a' : entry?.node], 'the directory says connected, where the device is');
});

t.test('finding: a buffered request answered 0xA1 while Redis is away stays in the buffer, and is delivered late to the resumed central (PROTOCOL §6)', async (t) => {
  // The tracker's removal of an answered request from the kept buffer (PendingRequest.unbuffer →
  // buffers.remove) is fire-and-forget: when Redis is away at that moment it is lost, and the
  // node that later replays the buffer checks only its own tracker, not the request's node.
  const own = await RedisServer.start(t);
  const { a, b } = await twoNodes(t, own.url);
  const seen: string[] = [];
  const handler = (req: IncomingRequest) => {
    seen.push(req.payload.data.toString());
    return { code: 0, payload: req.payload };
  };
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, requestTimeoutMs: 10_000 });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  central.destroy(); // kept
  const engines = b.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(CENTRAL_UID))?.state === 'kept', 'the central kept in the directory');
  const answer = obj.request(ascii('buffered'));
  await until(async () => (await engines.buffers.stats(CENTRAL_UID)).count === 1, 'the request buffered for the kept central (tracked on a)');
  await own.stop(); // Redis away for less than the lease: no node lapses
  t.equal((await answer).code, 0xa1, 'its origin got 0xA1 at the request timeout (1 s), Redis away');
  await own.resume();
  await until(() => a.daemon.internals.fleet!.live && b.daemon.internals.fleet!.live, 'both nodes live again', 10_000);
  const again = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY, reconnect: false, handler });
  t.teardown(() => again.destroy());
  await until(() => again.connect().then(() => true, () => false), 'the central connects at b again', 10_000);
  t.equal((await obj.request(ascii('after'))).code, 0, 'a new request reaches the resumed central');
  // Expected: only 'after'. Got: 'buffered' first — delivered after its origin was answered 0xA1.
  t.same(seen, ['after'], 'the central never got the request its origin saw answered 0xA1');
});
