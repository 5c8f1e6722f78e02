import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('dev-1', 'Stations');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

async function setup(t: Test, over: any = {}) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { keepSessionSec: 60, tcp: { requestTimeoutSec: 30 }, ...over }), [dev, device('other', 'Stations')], { clock });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const connect = async () => {
    const c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
    t.teardown(() => c.close());
    return c;
  };
  const waitState = async (uid: string, state: string | undefined) => {
    for (let i = 0; i < 200 && d.daemon.internals.sessions.get(uid)?.state !== state; i++) await new Promise((r) => setImmediate(r));
    t.equal(d.daemon.internals.sessions.get(uid)?.state, state, `${uid || 'central'} is ${state ?? 'gone'}`);
  };
  return { ...d, clock, central, connect, waitState };
}

const closeCases: Array<[string, number | 'drop', boolean]> = [
  ['unexpected disconnect', 'drop', true],
  ['Close 0xA0 (sleep)', CloseCode.SLEEP, true],
  ['Close 0xA1 (freeing resources)', CloseCode.FREEING_RESOURCES, true],
  ['Close 0x00', CloseCode.PROTOCOL_ERROR, false],
  ['Close 0x01', CloseCode.MAINTENANCE, false],
  ['Close 0x02', CloseCode.TOO_MANY, false],
  ['Close 0x03', CloseCode.INTERNAL_ERROR, false],
];

for (const [name, how, kept] of closeCases) {
  t.test(`${name} ${kept ? 'keeps' : 'ends'} the session (PROTOCOL §6)`, async (t) => {
    const { connect, waitState, central } = await setup(t);
    const obj = await connect();
    if (how === 'drop') obj.close();
    else obj.send({ type: ToT.CLOSE, code: how });
    await obj.whenClosed();
    await waitState(dev.uid, kept ? 'kept' : undefined);
    central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: p('x') });
    if (!kept) t.equal((await central.nextOf(ToT.RESPONSE)).code, ResponseCode.NOT_FOUND, 'ended session → 0xA0');
  });
}

t.test('requests to a kept session are buffered in order and replayed on resume', async (t) => {
  const { connect, waitState, central, daemon } = await setup(t);
  const obj = await connect();
  obj.send({ type: ToT.CLOSE, code: CloseCode.SLEEP });
  await waitState(dev.uid, 'kept');
  for (let i = 1; i <= 5; i++) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: i, payload: p(`r${i}`) });
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  t.equal(daemon.internals.sessions.get(dev.uid)?.buffer.count, 5, 'five buffered');
  const back = await connect();
  const got = [];
  for (let i = 0; i < 5; i++) got.push((await back.nextOf(ToT.REQUEST)).payload.data.toString());
  t.same(got, ['r1', 'r2', 'r3', 'r4', 'r5'], 'delivered in order');
  back.send({ type: ToT.RESPONSE, tracking: 3, code: 0, payload: p('ok3') });
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.uid, r.tracking, r.payload.data.toString()], [dev.uid, 3, 'ok3'], 'response reaches the central');
  t.equal(daemon.internals.sessions.budget.used, 0, 'global buffer budget returned');
});

t.test('a buffered request that timed out is answered 0xA1 once and never delivered late', async (t) => {
  const { connect, waitState, central, clock } = await setup(t);
  const obj = await connect();
  obj.close();
  await waitState(dev.uid, 'kept');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: p('old') });
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  clock.advance(30_000);
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.code], [1, ResponseCode.TIMEOUT]);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: p('new') });
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  const back = await connect();
  t.equal((await back.nextOf(ToT.REQUEST)).payload.data.toString(), 'new', 'only the live request is replayed');
  back.send({ type: ToT.PING });
  await back.nextOf(ToT.PONG);
  t.equal(back.received.length, 0, 'nothing else arrived');
});

t.test('expiry of a kept session answers every buffered request 0xA0', async (t) => {
  const { connect, waitState, central, clock, daemon } = await setup(t, { tcp: { requestTimeoutSec: 120 } });
  const obj = await connect();
  obj.close();
  await waitState(dev.uid, 'kept');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: p('a') });
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: p('b') });
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  clock.advance(59_999);
  t.equal(daemon.internals.sessions.get(dev.uid)?.state, 'kept', 'still kept before keepSessionSec');
  clock.advance(1);
  const codes = [await central.nextOf(ToT.RESPONSE), await central.nextOf(ToT.RESPONSE)].map((r) => [r.tracking, r.code]);
  t.same(codes, [[1, ResponseCode.NOT_FOUND], [2, ResponseCode.NOT_FOUND]]);
  t.equal(daemon.internals.sessions.get(dev.uid), undefined, 'session gone');
  t.equal(daemon.internals.tracker.size, 0, 'nothing tracked');
});

t.test('a full offline buffer answers the new request 0xA0 and counts it', async (t) => {
  const { connect, waitState, central, daemon } = await setup(t, { buffers: { maxPerSession: 2 } });
  const obj = await connect();
  obj.close();
  await waitState(dev.uid, 'kept');
  for (let i = 1; i <= 3; i++) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: i, payload: p('x') });
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.code], [3, ResponseCode.NOT_FOUND]);
  t.equal(await daemon.internals.metrics.value('iotsocket_requests_refused_total', { reason: 'session-count' }), 1);
});

t.test('responses and requests for a kept central are buffered and replayed', async (t) => {
  const { connect, waitState, central, daemon } = await setup(t);
  const obj = await connect();
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 9, payload: p('q') });
  await obj.nextOf(ToT.REQUEST);
  central.close();
  await waitState('', 'kept');
  obj.send({ type: ToT.RESPONSE, tracking: 9, code: 0, payload: p('answer') });
  obj.send({ type: ToT.REQUEST, tracking: 4, payload: p('from-object') });
  obj.send({ type: ToT.PING });
  await obj.nextOf(ToT.PONG);
  t.equal(daemon.internals.sessions.get('')?.buffer.count, 2);
  const back = (await RawClient.open(daemon.addresses!.tcp.port, '', CENTRAL_KEY)).client;
  t.teardown(() => back.close());
  const first = await back.next();
  const second = await back.next();
  t.same([first.type, (first as any).tracking], [ToT.RESPONSE, 9], 'buffered response first');
  t.same([second.type, (second as any).tracking, (second as any).uid], [ToT.REQUEST, 4, dev.uid], 'then the request');
});

t.test('ACL replacement from the central: persisted atomically, removed object closed', async (t) => {
  const { connect, central, daemon, config, waitState } = await setup(t);
  const obj = await connect();
  const newcomer = device('new-1', 'Devices');
  central.send({ type: ToT.ACL, entries: [{ group: 'Devices', uid: newcomer.uid, key: newcomer.key }] });
  const close = await obj.nextOf(ToT.CLOSE);
  t.equal(close.code, CloseCode.MAINTENANCE, 'removed object closed with 0x01');
  await waitState(dev.uid, undefined);
  await daemon.internals.acl.flush();
  const file = JSON.parse(readFileSync(config.acl.file, 'utf8'));
  t.same(Object.keys(file), [newcomer.uid], 'file holds the new ACL');
  t.equal(file[newcomer.uid].AuthKey, newcomer.key.toString('hex').toUpperCase());
  const n = await RawClient.open(daemon.addresses!.tcp.port, newcomer.uid, newcomer.key);
  t.teardown(() => n.client.close());
  t.ok(n.accepted, 'the new object can authenticate');
  const old = await RawClient.open(daemon.addresses!.tcp.port, dev.uid, dev.key);
  t.teardown(() => old.client.close());
  t.notOk(old.accepted, 'the removed one cannot');
});

t.test('an ACL naming an unknown group is rejected whole', async (t) => {
  const { central, daemon, logs } = await setup(t);
  const before = daemon.internals.acl.current;
  central.send({ type: ToT.ACL, entries: [{ group: 'Devices', uid: 'a', key: Buffer.alloc(16, 1) }, { group: 'Nope', uid: 'b', key: Buffer.alloc(16, 2) }] });
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  for (let i = 0; i < 100 && logs.find('acl-rejected').length === 0; i++) await new Promise((r) => setImmediate(r));
  t.equal(daemon.internals.acl.current, before, 'previous ACL kept');
  t.match(logs.find('acl-rejected')[0]?.problems, [{ uid: 'b', reason: 'unknown-group' }]);
});

t.test('after a takeover, a response the older connection still sends is delivered, not left to time out', async (t) => {
  const { connect, central, daemon } = await setup(t);
  const old = await connect();
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 77, payload: p('q') });
  await old.nextOf(ToT.REQUEST);
  const fresh = await connect(); // takeover: the older connection gets Close 0xA1
  t.equal((await old.nextOf(ToT.CLOSE)).code, CloseCode.FREEING_RESOURCES);
  old.send({ type: ToT.RESPONSE, tracking: 77, code: 0, payload: p('answer from the old socket') });
  old.send({ type: ToT.REQUEST, tracking: 1, payload: p('but no new requests') });
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.code, r.payload.data.toString()], [77, 0, 'answer from the old socket']);
  fresh.send({ type: ToT.PING });
  await fresh.nextOf(ToT.PONG);
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'the old connection cannot start new requests');
  t.equal(daemon.internals.tracker.size, 0);
});
