import t, { type Test } from 'tap';
import { CloseCode, ObjectClient, decodePayloadJson, json } from '../../src/client/index.js';
import { ResponseCode, ToT, encodeDatagram } from '../../src/protocol/index.js';
import { ascii, responsesBeforePong, sessionOf, startCluster, untilKept, withTimeout } from '../helpers/cluster.js';
import { device, type Device } from '../helpers/daemon.js';
import type { RawClient } from '../helpers/raw-client.js';
import { RedisServer } from '../helpers/redis.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

// CLUSTER.md: what three nodes on one Redis guarantee, one subtest per guarantee, over real
// sockets. Each subtest has its own redis-server and its own nodes a, b, c (in this process).

const aclBody = (devs: readonly Device[]) => devs.map((d) => ({ GroupName: d.group, UID: d.uid, AuthKey: d.key.toString('hex') }));

async function threeNodes(t: Test, devices: readonly Device[], over: Record<string, any> = {}) {
  const redis = await RedisServer.start(t);
  const [a, b, c] = await startCluster(t, redis, ['a', 'b', 'c'], devices, over);
  return { redis, a: a!, b: b!, c: c! };
}

/** Sends a Ping and waits for its Pong: everything sent to `client` before it has arrived (per connection, in order). */
async function pingPong(client: RawClient): Promise<void> {
  client.send({ type: ToT.PING });
  await client.nextOf(ToT.PONG);
}



t.test('guarantee 1, any node reaches any device and any central: TCP both ways, HTTP at a third node, UDP at a third node', async (t) => {
  const dev = device('g1-dev');
  const { a, b, c } = await threeNodes(t, [dev]);
  const obj = await b.object(dev);
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const central = await a.central();

  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: ascii('down') });
  const down = await obj.nextOf(ToT.REQUEST);
  t.same([down.uid ?? '', down.tracking, down.payload.data.toString()], ['', 1, 'down'], 'the central\'s request on a reaches the object on b, UID removed, tracking kept');
  obj.send({ type: ToT.RESPONSE, tracking: 1, code: 0, payload: ascii('re:down') });
  const downAnswer = await central.nextOf(ToT.RESPONSE);
  t.same([downAnswer.uid, downAnswer.tracking, downAnswer.code, downAnswer.payload.data.toString()], [dev.uid, 1, 0, 're:down'], 'its response comes back to a with RTE=1 and the UID');

  obj.send({ type: ToT.REQUEST, tracking: 7, payload: ascii('up') });
  const up = await central.nextOf(ToT.REQUEST);
  t.same([up.uid, up.tracking, up.payload.data.toString()], [dev.uid, 7, 'up'], 'the object\'s request on b reaches the central on a with its UID');
  central.send({ type: ToT.RESPONSE, uid: dev.uid, tracking: 7, code: 0, payload: ascii('re:up') });
  const upAnswer = await obj.nextOf(ToT.RESPONSE);
  t.same([upAnswer.tracking, upAnswer.code, upAnswer.payload.data.toString()], [7, 0, 're:up'], 'and the central\'s response reaches the object');

  const http = c.post('/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: 'via-c' });
  const viaC = await obj.nextOf(ToT.REQUEST);
  t.equal(viaC.payload.data.toString(), 'via-c', 'POST /request at c reaches the object on b');
  obj.send({ type: ToT.RESPONSE, tracking: viaC.tracking, code: 0, payload: ascii('re:via-c') });
  const answer = await http;
  t.same([answer.status, answer.json], [200, { Code: 0, Format: 'ASCII', Payload: 're:via-c' }], 'and the HTTP caller at c gets the answer');
  await pingPong(central);
  t.notOk(central.received.some((x) => x.type === ToT.RESPONSE), 'the TCP central on a got nothing meant for the HTTP caller');

  const udp = await UdpSender.open(t);
  await udp.send(c.udp, encodeDatagram(token, ascii('21.5C')));
  const tele = await central.nextOf(ToT.TELEMETRY);
  t.same([tele.uid, tele.payload.data.toString()], [dev.uid, '21.5C'], 'a datagram at c\'s UDP port with the token b issued reaches the central on a');
  t.equal(udp.replies.length, 0, 'and UDP is never answered');
});

t.test('guarantee 2, one tracking space per object fleet-wide: 0xA2 across nodes, distinct numbers for HTTP callers at two nodes', async (t) => {
  const dev = device('g2-dev');
  const { a, b, c } = await threeNodes(t, [dev]);
  const obj = await b.object(dev);
  const central = await a.central();

  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 42, payload: ascii('first') });
  t.equal((await obj.nextOf(ToT.REQUEST)).tracking, 42, 'tracking 42 from a is in flight at the object on b (held unanswered)');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 42, payload: ascii('again') });
  const refused = await central.nextOf(ToT.RESPONSE);
  t.same([refused.uid, refused.tracking, refused.code], [dev.uid, 42, ResponseCode.IN_PROGRESS], 'the same number again: 0xA2');

  // Two HTTP callers at once, at a and at c, while 42 is held: three distinct numbers at the object.
  const atA = a.post('/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: 'http-a' });
  const atC = c.post('/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: 'http-c' });
  const r1 = await obj.nextOf(ToT.REQUEST);
  const r2 = await obj.nextOf(ToT.REQUEST);
  t.same([r1.payload.data.toString(), r2.payload.data.toString()].sort(), ['http-a', 'http-c'], 'both HTTP requests reach the object');
  t.not(r1.tracking, r2.tracking, 'with distinct tracking numbers');
  t.ok(r1.tracking !== 42 && r2.tracking !== 42, 'neither takes the number the TCP central holds');
  for (const r of [r2, r1]) obj.send({ type: ToT.RESPONSE, tracking: r.tracking, code: 0, payload: ascii(`re:${r.payload.data.toString()}`) });
  t.same((await atA).json, { Code: 0, Format: 'ASCII', Payload: 're:http-a' }, 'the caller at a gets its own answer');
  t.same((await atC).json, { Code: 0, Format: 'ASCII', Payload: 're:http-c' }, 'the caller at c gets its own answer');

  obj.send({ type: ToT.RESPONSE, tracking: 42, code: 0, payload: ascii('re:first') });
  const first = await central.nextOf(ToT.RESPONSE);
  t.same([first.tracking, first.code, first.payload.data.toString()], [42, 0, 're:first'], 'the holder of 42 gets the one answer');
  // The refused duplicate was never forwarded: the next request the object sees is 43.
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 43, payload: ascii('next') });
  const next = await obj.nextOf(ToT.REQUEST);
  t.same([next.tracking, next.payload.data.toString()], [43, 'next'], 'the 0xA2-refused request was not forwarded');
});

t.test('guarantee 3, one session per UID fleet-wide: an object and the central taken over across nodes (Close 0xA1)', async (t) => {
  const dev = device('g3-dev');
  const { a, b, c } = await threeNodes(t, [dev]);
  const first = await a.object(dev);
  const central = await c.central();

  const second = await b.object(dev);
  const close = await first.nextOf(ToT.CLOSE);
  t.equal(close.code, CloseCode.FREEING_RESOURCES, 'the object\'s connection at a gets Close 0xA1 when it authenticates at b');
  await first.whenClosed(3000);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 3, payload: ascii('where') });
  const req = await second.nextOf(ToT.REQUEST);
  t.equal(req.tracking, 3, 'the central\'s request now reaches it through b');
  second.send({ type: ToT.RESPONSE, tracking: 3, code: 0, payload: ascii('at-b') });
  t.same((await central.nextOf(ToT.RESPONSE)).payload.data.toString(), 'at-b', 'and is answered');
  t.notOk(first.received.some((x) => x.type === ToT.REQUEST), 'nothing went to the old connection');

  const central2 = await a.central();
  const cclose = await central.nextOf(ToT.CLOSE);
  t.equal(cclose.code, CloseCode.FREEING_RESOURCES, 'the central at c gets Close 0xA1 when a central authenticates at a');
  await central.whenClosed(3000);
  second.send({ type: ToT.REQUEST, tracking: 9, payload: ascii('to-central') });
  const up = await central2.nextOf(ToT.REQUEST);
  t.same([up.uid, up.tracking], [dev.uid, 9], 'the object\'s request reaches the new central at a');
});

t.test('guarantee 4, kept sessions are the fleet\'s: requests buffered while the object is away are delivered in order where it resumes', async (t) => {
  const dev = device('g4-dev');
  const { a, b, c } = await threeNodes(t, [dev]);
  const central = await a.central();
  const obj = await b.object(dev);
  obj.close(); // an unexpected drop: the session is kept
  await untilKept([a], dev.uid, 0);

  for (const n of [1, 2, 3]) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: n, payload: ascii(`r${n}`) });
  const listed = await untilKept([a], dev.uid, 3).then(() => '', (err: Error) => err.message);
  t.equal(listed, '', 'GET /sessions at a shows the three requests buffered for the session kept at b');
  t.notOk(central.received.some((x) => x.type === ToT.RESPONSE), 'buffered, not answered');

  const resumed = await c.object(dev);
  const got: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await resumed.nextOf(ToT.REQUEST);
    got.push(`${r.tracking}:${r.payload.data.toString()}`);
    resumed.send({ type: ToT.RESPONSE, tracking: r.tracking, code: 0, payload: ascii(`re${r.tracking}`) });
  }
  t.same(got, ['1:r1', '2:r2', '3:r3'], 'the object resuming at c gets the three requests kept at b, in order');
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await central.nextOf(ToT.RESPONSE));
  t.same(answers.map((x) => [x.uid, x.tracking, x.code, x.payload.data.toString()]).sort(),
    [[dev.uid, 1, 0, 're1'], [dev.uid, 2, 0, 're2'], [dev.uid, 3, 0, 're3']], 'the central on a gets the three answers');
  await pingPong(central);
  t.equal(central.received.filter((x) => x.type === ToT.RESPONSE).length, 0, 'and no fourth');
});

t.test('guarantee 4b, expiry of a kept session answers every pending origin 0xA0, wherever it is, exactly once', async (t) => {
  const dev = device('g4-expiry');
  const { a, b, c } = await threeNodes(t, [dev], { keepSessionSec: 1 });
  const central = await a.central();
  const obj = await b.object(dev);
  obj.close();
  await untilKept([a], dev.uid, 0);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: ascii('tcp') });
  const http = c.post('/request', { UID: dev.uid, Timeout: 20, Format: 'ASCII', Payload: 'http' }, { ms: 8000 });
  const started = Date.now();
  const answer = await central.nextOf(ToT.RESPONSE, 6000);
  t.same([answer.uid, answer.tracking, answer.code], [dev.uid, 1, ResponseCode.NOT_FOUND], 'the TCP central on a gets 0xA0 when the session kept at b expires');
  const viaHttp = await http;
  t.match(viaHttp.json, { Code: ResponseCode.NOT_FOUND, Payload: null, Reason: String }, 'the HTTP caller at c gets 160 with a Reason');
  t.ok(Date.now() - started < 6000, `both well before the request timeout (${Date.now() - started} ms)`);
  await until(async () => (await sessionOf(a, dev.uid)) === undefined, 'the expired session to leave GET /sessions', 3000);
  t.same(await responsesBeforePong(central), [], 'one answer each: no second 0xA0 from another node\'s sweep');
});

t.test('guarantee 6a, the ACL is the fleet\'s: replaced at a (POST /acl or TCP), in force at b and c before the next answer', async (t) => {
  const dev = device('g6-old');
  const added = device('g6-new');
  const viaTcp = device('g6-tcp');
  const { a, b, c } = await threeNodes(t, [dev]);
  t.equal((await b.tryObject(added)).accepted, false, 'before: the new device is refused at b');

  const put = await a.post('/acl', aclBody([dev, added]));
  t.equal(put.status, 200, 'POST /acl at a: 200');
  t.equal((await b.tryObject(added)).accepted, true, 'right after the 200, the new device is accepted at b');

  const central = await a.central();
  central.send({ type: ToT.ACL, entries: [dev, added, viaTcp].map((d) => ({ group: d.group, uid: d.uid, key: d.key })) });
  await pingPong(central); // README: once any later transmission is answered, the ACL is in force
  t.equal((await c.tryObject(viaTcp)).accepted, true, 'after the ACL transmission at a and its next Pong, the device is accepted at c');
  const listed = await b.get('/acl');
  t.same(listed.json.map((e: { UID: string }) => e.UID).sort(), [added.uid, viaTcp.uid, dev.uid].sort(), 'GET /acl at b shows the fleet\'s ACL');
});

t.test('guarantee 6b, revocation is fleet-wide: removing a UID at a ends its session at b and its token at c', async (t) => {
  const gone = device('g6-gone');
  const stays = device('g6-stays');
  const { a, b, c } = await threeNodes(t, [gone, stays]);
  const central = await a.central();
  const obj = await b.object(gone);
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const other = await b.object(stays);
  const otherToken = (await other.nextOf(ToT.TOKEN)).token;
  const udp = await UdpSender.open(t);
  await udp.send(c.udp, encodeDatagram(token, ascii('before')));
  const before = await central.nextOf(ToT.TELEMETRY, 3000).then((x) => x.uid ?? '', (err: Error) => err.message);
  t.equal(before, gone.uid, 'before: its datagrams at c reach the central (so c knows the token)');

  const put = await a.post('/acl', aclBody([stays]));
  t.equal(put.status, 200, 'POST /acl at a without it: 200');
  const close = await obj.nextOf(ToT.CLOSE, 3000);
  t.equal(close.code, CloseCode.MAINTENANCE, 'its session at b ends with Close 0x01, as on one node');
  await obj.whenClosed(3000);
  await until(async () => (await sessionOf(a, gone.uid)) === undefined, `${gone.uid} to leave GET /sessions at a`, 3000);

  const dropsBefore = await c.metric('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'unknown-token' });
  await udp.send(c.udp, encodeDatagram(token, ascii('after')));
  const dropped = await until(async () => (await c.metric('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'unknown-token' })) > dropsBefore,
    'the revoked token\'s datagram to be dropped at c', 3000).then(() => '', (err: Error) => err.message);
  t.equal(dropped, '', 'a datagram with the revoked token is dropped at c (counted unknown-token)');
  await udp.send(c.udp, encodeDatagram(otherToken, ascii('still-valid')));
  const next = await central.nextOf(ToT.TELEMETRY, 3000).then((x) => [x.uid, x.payload.data.toString()], (err: Error) => [err.message]);
  t.same(next, [stays.uid, 'still-valid'], 'the central gets the remaining device\'s datagram, not the revoked one\'s');
});

t.test('guarantee 7, the operator sees the fleet: GET /sessions at any node lists every session with its node', async (t) => {
  const devs = ['g7-1', 'g7-2', 'g7-3'].map((u) => device(u));
  const { a, b, c } = await threeNodes(t, devs);
  const nodes = [a, b, c];
  for (let i = 0; i < 3; i++) await nodes[i]!.object(devs[i]!);
  await b.central();
  const want = { '': 'b', 'g7-1': 'a', 'g7-2': 'b', 'g7-3': 'c' };
  for (const n of nodes) {
    const rows = await n.sessions();
    t.same(Object.fromEntries(rows.map((s) => [s.UID, s.Node])), want, `GET /sessions at ${n.id}: the fleet, each session with its node`);
    t.ok(rows.every((s) => s.State === 'connected' && typeof s.Kind === 'string'), `at ${n.id}: each row keeps its other fields`);
  }
  const page = await c.get('/sessions?limit=2');
  t.same([page.json.sessions.map((s: { UID: string }) => s.UID), page.json.next], [['', 'g7-1'], 'g7-1'], 'paged by UID across the fleet');
});

t.test('guarantee 8, Redis down is loud: fast 503 with a reason, /readyz not ready, handshakes refused; back by itself', async (t) => {
  const dev = device('g8-dev');
  const { redis, a, b } = await threeNodes(t, [dev]);
  const obj = new ObjectClient({
    host: '127.0.0.1', port: b.tcp, uid: dev.uid, key: dev.key, reconnect: { minMs: 50, maxMs: 300, takeoverMinMs: 50 },
    handler: (req) => ({ payload: json({ echo: decodePayloadJson(req.payload) }) }),
  });
  t.teardown(() => obj.destroy());
  obj.on('error', () => {});
  await obj.connect();
  const ask = (ms = 5000) => a.post('/request', { UID: dev.uid, Timeout: 2, Format: 'JSON', Payload: 'ping' }, { ms });
  t.same((await ask()).json, { Code: 0, Format: 'JSON', Payload: { echo: 'ping' } }, 'before: a request at a reaches the object on b');

  await redis.stop();
  const started = Date.now();
  const down = await ask(2000);
  const took = Date.now() - started;
  t.ok(took < 2000, `POST /request while Redis is down answers within 2 s (${took} ms)`);
  t.equal(down.status, 503, `with HTTP 503 (got ${down.status} ${down.text})`);
  const reason = down.json?.Reason ?? down.json?.message;
  t.ok(typeof reason === 'string' && reason.length > 0, `and a reason (${JSON.stringify(down.json)})`);
  await until(async () => (await a.get('/readyz', { auth: null, ms: 1000 })).status === 503, '/readyz at a to say 503 while Redis is down', 3000);
  const handshake = await withTimeout(b.tryObject(device('g8-dev')).then((r) => (r.accepted ? 'accepted' : 'refused'), (err: Error) => `refused: ${err.message}`),
    3000, 'a handshake at b while Redis is down to be answered');
  t.match(handshake, /^refused/, `a new handshake while Redis is down is refused, not left hanging (${handshake})`);

  await redis.resume();
  await until(async () => (await a.get('/readyz', { auth: null, ms: 1000 })).status === 200, '/readyz at a to be 200 again after Redis returns', 10_000);
  let last = '';
  await until(async () => {
    const r = await ask(3000);
    last = `${r.status} ${r.text}`;
    return r.status === 200 && r.json?.Code === 0;
  }, 'a request at a to the object on b to be answered again after Redis returns', 10_000).catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${last}`);
  });
  t.match(last, /^200 /, `requests are answered again, with no restart and no operator (${last})`);
});
