import t, { type Test } from 'tap';
import { CentralClient, ObjectClient, ResponseCode, ascii, json, decodePayloadJson } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/until.js';
import { RedisServer } from '../helpers/redis.js';

const dev = device('fleet-1');
const redis = await RedisServer.start(t);
let prefixes = 0;

async function twoNodes(t: Test) {
  const keyPrefix = `fb${++prefixes}:`;
  const cluster = (nodeId: string): ClusterConfig => ({ redis: redis.url, nodeId, keyPrefix, commandTimeoutMs: 1000, heartbeatSec: 1, leaseSec: 2 });
  const a = await startDaemon(t, testConfig(t, { cluster: cluster('a'), http: { enabled: true } }), [dev], { logLevel: 'warn' });
  const b = await startDaemon(t, testConfig(t, { cluster: cluster('b'), http: { enabled: true } }), [dev], { logLevel: 'warn' });
  return { a, b };
}

t.test('central on node a, object on node b: requests both ways, and HTTP at a', async (t) => {
  const { a, b } = await twoNodes(t);
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY, handler: (req) => ({ code: 0, payload: ascii(`central saw ${req.uid}`) }) });
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, handler: (req) => ({ code: 0, payload: json({ echo: decodePayloadJson(req.payload) }) }) });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  const res = await central.request(dev.uid, json({ n: 1 }));
  t.same([res.code, decodePayloadJson(res.payload)], [ResponseCode.VALID, { echo: { n: 1 } }], 'central → object across nodes');
  const up = await obj.request(ascii('hi'));
  t.same([up.code, up.payload.data.toString()], [0, `central saw ${dev.uid}`], 'object → central across nodes');
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => central.request(dev.uid, json(i))));
  t.same(results.map((r) => decodePayloadJson(r.payload)), Array.from({ length: 50 }, (_, i) => ({ echo: i })), '50 concurrent, each answered once');
  const http = await call(`http://127.0.0.1:${a.daemon.addresses!.http!.port}`, '/request', { UID: dev.uid, Timeout: 5, Format: 'JSON', Payload: { via: 'http' } });
  t.same([http.status, http.json], [200, { Code: 0, Format: 'JSON', Payload: { echo: { via: 'http' } } }], 'POST /request at a reaches the object on b');
  t.equal(a.daemon.internals.tracker.size + b.daemon.internals.tracker.size, 0, 'nothing left tracked');
});

t.test('takeover across nodes: the older connection gets Close 0xA1, the session goes on at the newer node', async (t) => {
  const { a, b } = await twoNodes(t);
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY });
  const first = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('first') }) });
  const second = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('second') }) });
  t.teardown(() => { central.destroy(); first.destroy(); second.destroy(); });
  await central.connect();
  await first.connect();
  const closed = new Promise<{ code?: number }>((r) => first.once('close', r));
  await second.connect();
  t.equal((await closed).code, 0xa1, 'the connection on a is closed 0xA1');
  const res = await central.request(dev.uid, ascii('who'));
  t.equal(res.payload.data.toString(), 'second', 'the central on a reaches it on b');
  t.equal(a.daemon.internals.sessions.get(dev.uid), undefined, 'a holds it no more');
});

t.test('a session kept on one node resumes on the other with its buffered requests, in order', async (t) => {
  const { a, b } = await twoNodes(t);
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY });
  const seen: string[] = [];
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => { seen.push(req.payload.data.toString()); return { code: 0, payload: req.payload }; } });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  obj.destroy(); // an unexpected drop: the session is kept
  const engines = b.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(dev.uid))?.state === 'kept', 'the session kept in the directory');
  const answers = Promise.all(['one', 'two', 'three'].map((p) => central.request(dev.uid, ascii(p))));
  await until(async () => (await engines.buffers.stats(dev.uid)).count === 3, 'three requests buffered');
  const again = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => { seen.push(req.payload.data.toString()); return { code: 0, payload: req.payload }; } });
  t.teardown(() => again.destroy());
  await again.connect();
  t.same((await answers).map((r) => [r.code, r.payload.data.toString()]), [[0, 'one'], [0, 'two'], [0, 'three']], 'each answered by the device');
  t.same(seen, ['one', 'two', 'three'], 'delivered in order, once');
});

t.test('Redis away: fast explicit refusals, and recovery by itself', async (t) => {
  const own = await RedisServer.start(t);
  const cluster: ClusterConfig = { redis: own.url, nodeId: 'solo', keyPrefix: 'x:', commandTimeoutMs: 500, heartbeatSec: 1, leaseSec: 2 };
  const n = await startDaemon(t, testConfig(t, { cluster, http: { enabled: true } }), [dev], { logLevel: 'silent' });
  const base = `http://127.0.0.1:${n.daemon.addresses!.http!.port}`;
  t.equal((await call(base, '/readyz', undefined, { method: 'GET' })).status, 200, 'ready');
  await own.stop();
  await until(async () => (await call(base, '/readyz', undefined, { method: 'GET' })).status === 503, '/readyz not ready while Redis is away');
  const began = Date.now();
  const r = await call(base, '/request', { UID: dev.uid, Timeout: 5, Format: 'JSON', Payload: 1 });
  t.equal(r.status, 503, `POST /request: 503 (${JSON.stringify(r.json)})`);
  t.ok(Date.now() - began < 2000, `refused in ${Date.now() - began} ms`);
  const obj = new ObjectClient({ host: '127.0.0.1', port: n.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('ok') }) });
  t.teardown(() => obj.destroy());
  await t.rejects(obj.connect(), 'a new session is refused');
  await own.resume();
  await until(async () => (await call(base, '/readyz', undefined, { method: 'GET' })).status === 200, 'ready again by itself', 15_000);
  const obj2 = new ObjectClient({ host: '127.0.0.1', port: n.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('ok') }) });
  t.teardown(() => obj2.destroy());
  await obj2.connect();
  const ok = await call(base, '/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: 'x' });
  t.same([ok.status, (ok.json as { Code: number }).Code], [200, 0], 'requests work again');
});

t.test('GET /sessions at any node lists the fleet with each session\'s node; DELETE ends one held elsewhere', async (t) => {
  const { a, b } = await twoNodes(t);
  const other = device('fleet-2');
  await a.daemon.internals.acl.replace([dev, other]);
  const o1 = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('1') }) });
  const o2 = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: other.uid, key: other.key, reconnect: false, handler: () => ({ code: 0, payload: ascii('2') }) });
  t.teardown(() => { o1.destroy(); o2.destroy(); });
  await o1.connect();
  await o2.connect();
  for (const n of [a, b]) {
    const r = await call(`http://127.0.0.1:${n.daemon.addresses!.http!.port}`, '/sessions', undefined, { method: 'GET' });
    const rows = (r.json as { sessions: Array<{ UID: string; Node: string; State: string }> }).sessions.map((s) => [s.UID, s.Node, s.State]);
    t.same(rows, [[dev.uid, 'a', 'connected'], [other.uid, 'b', 'connected']], `listed at node ${n === a ? 'a' : 'b'}`);
  }
  const closed = new Promise<{ code?: number }>((r) => o1.once('close', r));
  const del = await call(`http://127.0.0.1:${b.daemon.addresses!.http!.port}`, `/sessions/${dev.uid}`, undefined, { method: 'DELETE' });
  t.equal(del.status, 204, 'DELETE at b');
  t.equal((await closed).code, 0x01, 'the connection on a gets Close 0x01');
  await until(async () => (await b.daemon.internals.fleet!.engines.directory.lookup(dev.uid)) === undefined, 'the entry is gone from the directory');
});

t.test('a node dies (destroy: no goodbye): requests through it are answered once, its devices resume elsewhere with what was buffered', async (t) => {
  const { a, b } = await twoNodes(t);
  const central = new CentralClient({ host: '127.0.0.1', port: a.port, key: CENTRAL_KEY });
  const held: string[] = [];
  const obj = new ObjectClient({
    host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false,
    handler: (req) => { held.push(req.payload.data.toString()); return new Promise(() => {}); }, // never answers
  });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  const base = `http://127.0.0.1:${a.daemon.addresses!.http!.port}`;
  const began = Date.now();
  const pending = call(base, '/request', { UID: dev.uid, Timeout: 20, Format: 'ASCII', Payload: 'in flight' });
  await until(() => held.length === 1, 'the object holds the request');
  b.daemon.destroy();
  const r = await pending;
  t.same([r.status, (r.json as { Code: number }).Code, (r.json as { Reason?: string }).Reason], [200, 0xa0, 'node-lost'], 'answered once: 0xA0 node-lost');
  t.ok(Date.now() - began < 8000, `within the lease and a heartbeat (${Date.now() - began} ms), not the 20 s timeout`);
  const engines = a.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(dev.uid))?.state === 'kept', "the reaper kept b's session", 8000);
  const buffered = central.request(dev.uid, ascii('while nobody holds it'));
  await until(async () => (await engines.buffers.stats(dev.uid)).count === 1, 'buffered');
  const again = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => again.destroy());
  await again.connect();
  const res = await buffered;
  t.same([res.code, res.payload.data.toString()], [0, 'while nobody holds it'], 'resumed on a, the buffered request answered by the device');
});

t.test('a node cut off from Redis past its lease: a survivor keeps its sessions; once back, it takes them up again (no split brain)', async (t) => {
  const proxy = await TcpProxy.start(t, redis.port);
  const keyPrefix = `fb${++prefixes}:`;
  const cluster = (nodeId: string, port: number): ClusterConfig => ({ redis: `redis://127.0.0.1:${port}`, nodeId, keyPrefix, commandTimeoutMs: 300, heartbeatSec: 1, leaseSec: 2 });
  const a = await startDaemon(t, testConfig(t, { cluster: cluster('a', proxy.port) }), [dev], { logLevel: 'silent' });
  const b = await startDaemon(t, testConfig(t, { cluster: cluster('b', redis.port) }), [dev], { logLevel: 'silent' });
  const central = new CentralClient({ host: '127.0.0.1', port: b.port, key: CENTRAL_KEY });
  const obj = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => { central.destroy(); obj.destroy(); });
  await central.connect();
  await obj.connect();
  const engines = b.daemon.internals.fleet!.engines;
  const before = (await engines.directory.lookup(dev.uid))!;
  proxy.cut();
  await until(async () => (await engines.directory.lookup(dev.uid))?.state === 'kept', "b reaps a and keeps a's session", 10_000);
  t.equal(a.daemon.internals.fleet!.live, false, 'a knows it is not live: it claims nothing');
  const answer = central.request(dev.uid, ascii('asked while a was away'));
  await until(async () => (await engines.buffers.stats(dev.uid)).count === 1, 'the request is buffered for the kept session');
  proxy.restore();
  const res = await answer;
  t.same([res.code, res.payload.data.toString()], [0, 'asked while a was away'], 'a, back, claims the session again for the connection it still has, and the buffered request reaches the device');
  const after = (await engines.directory.lookup(dev.uid))!;
  t.same([after.node, after.state], ['a', 'connected'], 'held by a again');
  t.not(after.claim, before.claim, 'under a new claim');
});

t.test('a node that stops gracefully: the others drop their routes to it, so what they are asked next is answered from the directory, not refused as unreachable', async (t) => {
  const { a, b } = await twoNodes(t);
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => obj.destroy());
  await obj.connect();
  const base = `http://127.0.0.1:${a.daemon.addresses!.http!.port}`;
  const ask = () => call(base, '/request', { UID: dev.uid, Timeout: 3, Format: 'JSON', Payload: 'q' });
  t.equal((await ask()).status, 200, 'a routes to b (the route is now cached for 5 s)');
  const fleetA = a.daemon.internals.fleet!;
  await until(() => fleetA.liveNodes.some((n) => n.node === 'b'), 'a to list b live (a heartbeat)', 5_000);
  await b.daemon.close(); // its sessions end with Close 0x01; it leaves the registry
  const atOnce = await ask();
  t.same([atOnce.status, atOnce.json?.Reason], [200, 'node-lost'], `before a notices: the link to b is gone, 0xA0 node-lost, not a 503 blaming Redis (${atOnce.status} ${atOnce.text})`);
  await until(() => !fleetA.liveNodes.some((n) => n.node === 'b'), 'a to see b gone (a heartbeat)', 5_000);
  const after = await ask();
  t.same([after.status, after.json?.Reason], [200, 'no-session'], `after a heartbeat: the route to b is dropped, the directory answers (${after.status} ${after.text})`);
});

t.test('a request buffered by a node that joined after the resuming node\'s last heartbeat tick is answered to its origin, not dropped as orphaned', async (t) => {
  // A long heartbeat: a's list of live nodes (read at its start) does not have b, which started after it.
  const keyPrefix = `fb${++prefixes}:`;
  const cluster = (nodeId: string): ClusterConfig => ({ redis: redis.url, nodeId, keyPrefix, commandTimeoutMs: 1000, heartbeatSec: 30, leaseSec: 60 });
  const a = await startDaemon(t, testConfig(t, { cluster: cluster('a'), http: { enabled: true } }), [dev], { logLevel: 'warn' });
  const b = await startDaemon(t, testConfig(t, { cluster: cluster('b'), http: { enabled: true } }), [dev], { logLevel: 'warn' });
  t.notOk(a.daemon.internals.fleet!.liveNodes.some((n) => n.node === 'b'), 'a has not listed b yet');
  const obj = new ObjectClient({ host: '127.0.0.1', port: b.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: req.payload }) });
  t.teardown(() => obj.destroy());
  await obj.connect();
  obj.destroy(); // kept
  const engines = b.daemon.internals.fleet!.engines;
  await until(async () => (await engines.directory.lookup(dev.uid))?.state === 'kept', 'the session kept in the directory');
  // Through b's HTTP API: b tracks it, buffered in the fleet.
  const answer = call(`http://127.0.0.1:${b.daemon.addresses!.http!.port}`, '/request', { UID: dev.uid, Timeout: 3, Format: 'ASCII', Payload: 'buffered' });
  await until(async () => (await engines.buffers.stats(dev.uid)).count === 1, 'the request buffered');
  const again = new ObjectClient({ host: '127.0.0.1', port: a.port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => ({ code: 0, payload: ascii(`again:${req.payload.data}`) }) });
  t.teardown(() => again.destroy());
  await again.connect(); // resumes on a, which replays the request and must route its answer to b
  const r = await answer;
  t.same([r.status, r.json], [200, { Code: 0, Format: 'ASCII', Payload: 'again:buffered' }], `answered by the device through a (${r.status} ${r.text})`);
});
