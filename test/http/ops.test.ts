import t from 'tap';
import { CloseCode, Format, ToT } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { call, startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const devs = ['a-1', 'b-2', 'c-3'].map((u) => device(u));
const get = { method: 'GET' as const, contentType: null };

t.test('health and readiness: unauthenticated, no details', async (t) => {
  const d = await startHttpDaemon(t, devs);
  const h = await d.post('/healthz', undefined, { ...get, auth: null });
  t.same([h.status, h.json], [200, { status: 'ok' }]);
  const r = await d.post('/readyz', undefined, { ...get, auth: null });
  t.same([r.status, r.json], [200, { status: 'ready' }]);
  t.equal((await d.post('/healthz', undefined, { method: 'POST', auth: null })).status, 405);
});

t.test('readyz says not-ready once close has begun', async (t) => {
  const d = await startHttpDaemon(t, devs);
  // A held HTTP request keeps the listener open while close() runs.
  const obj = (await RawClient.open(d.port, devs[0]!.uid, devs[0]!.key)).client;
  t.teardown(() => obj.close());
  const held = d.post('/request', { UID: devs[0]!.uid, Payload: 1, Format: 'JSON' });
  await obj.nextOf(ToT.REQUEST);
  const closing = d.daemon.close();
  const r = await call(d.base, '/readyz', undefined, { ...get, auth: null }).catch(() => ({ status: 503 }));
  t.equal(r.status, 503, 'not ready while draining');
  t.equal((await held).json.Code, 160, 'held request answered at shutdown');
  await closing;
});

t.test('/metrics: Prometheus text whose counters move with the traffic sent', async (t) => {
  const d = await startHttpDaemon(t, devs);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, devs[0]!.uid, devs[0]!.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  for (let i = 0; i < 3; i++) {
    central.send({ type: ToT.REQUEST, uid: devs[0]!.uid, tracking: i, payload: { format: Format.BINARY, options: 0, data: Buffer.from([i]) } });
    const req = await obj.nextOf(ToT.REQUEST);
    obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: req.payload });
    await central.nextOf(ToT.RESPONSE);
  }
  await RawClient.open(d.port, devs[1]!.uid, Buffer.alloc(16)).then((r) => r.client.close());
  const m = await d.post('/metrics', undefined, { ...get, auth: null });
  t.equal(m.status, 200);
  t.match(String(m.headers['content-type']), /^text\/plain/);
  const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(m.text)?.[1]);
  t.equal(value('iotsocket_requests_total{direction="down",code="0"}'), 3, 'three requests answered 0x00');
  t.equal(value('iotsocket_transmissions_received_total{type="request"}'), 3);
  t.equal(value('iotsocket_sessions{kind="object",state="connected"}'), 1);
  t.equal(value('iotsocket_sessions{kind="central",state="connected"}'), 1);
  t.equal(value('iotsocket_handshakes_total{result="refused",reason="bad-mac"}'), 1);
  t.equal(value('iotsocket_request_duration_seconds_count{direction="down"}'), 3, 'latency histogram');
  t.match(m.text, /iotsocket_process_resident_memory_bytes \d+/, 'process memory');
  t.match(m.text, /iotsocket_nodejs_eventloop_lag_seconds /, 'event-loop lag');
  t.notOk(m.text.includes(devs[0]!.uid), 'no UID in metrics');
});

t.test('admin API: sessions paginated, one session, delete with Close 0x01, ACL without keys, Bearer required', async (t) => {
  const d = await startHttpDaemon(t, devs);
  const clients = await Promise.all(devs.map((dv) => RawClient.open(d.port, dv.uid, dv.key)));
  t.teardown(() => clients.forEach((c) => c.client.close()));
  t.equal((await d.post('/sessions', undefined, { ...get, auth: null })).status, 401);
  const p1 = await d.post('/sessions?limit=2', undefined, get);
  t.equal(p1.status, 200);
  t.same(p1.json.sessions.map((s: any) => s.UID), ['a-1', 'b-2']);
  t.equal(p1.json.next, 'b-2');
  t.match(p1.json.sessions[0], { Kind: 'object', Group: 'Devices', TLS: false, State: 'connected', Buffered: 0, Peer: /^127\.0\.0\.1:\d+$/ });
  t.ok(Date.parse(p1.json.sessions[0].Since) <= Date.now());
  const p2 = await d.post(`/sessions?limit=2&cursor=${p1.json.next}`, undefined, get);
  t.same([p2.json.sessions.map((s: any) => s.UID), p2.json.next], [['c-3'], null]);
  t.equal((await d.post('/sessions?limit=0', undefined, get)).status, 400);
  t.equal((await d.post('/sessions/b-2', undefined, get)).json.UID, 'b-2');
  t.equal((await d.post('/sessions/nope', undefined, get)).status, 404);
  const del = await d.post('/sessions/b-2', undefined, { ...get, method: 'DELETE' });
  t.equal(del.status, 204);
  t.equal((await clients[1]!.client.nextOf(ToT.CLOSE)).code, CloseCode.MAINTENANCE, 'the device is told 0x01');
  t.equal(d.daemon.internals.sessions.get('b-2'), undefined, 'ended, not kept');
  const acl = await d.post('/acl', undefined, get);
  t.same(acl.json, devs.map((dv) => ({ UID: dv.uid, GroupName: 'Devices' })));
  t.notOk(acl.text.toLowerCase().includes(devs[0]!.key.toString('hex')), 'no keys');
});

t.test('an admin listener moves health, metrics and admin off the public one', async (t) => {
  const d = await startHttpDaemon(t, devs, { over: { admin: { host: '127.0.0.1', port: 0 } } });
  t.equal((await d.post('/metrics', undefined, { ...get, auth: null })).status, 404, 'not on the public listener');
  t.equal((await d.post('/acl', undefined, get)).status, 405, 'GET /acl is not the public API');
  const admin = `http://127.0.0.1:${d.daemon.addresses!.admin!.port}`;
  t.equal((await call(admin, '/healthz', undefined, { ...get, auth: null })).status, 200);
  t.equal((await call(admin, '/sessions', undefined, get)).status, 200);
  t.equal((await call(admin, '/request', { UID: 'x' }, {})).status, 404, 'the protocol API is not on the admin listener');
});
