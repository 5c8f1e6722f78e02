import t, { type Test } from 'tap';
import { CentralClient, ObjectClient, ResponseCode, ascii, json, decodePayloadJson } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
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
