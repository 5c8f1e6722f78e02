import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, MAX_PAYLOAD_LENGTH, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { settle, startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('dev-1');
const sleeper = device('st-1', 'Stations');
const wire = (format: number, data: Buffer | string): Payload => ({ format, options: 0, data: Buffer.from(data) });

async function setup(t: Test, opts: { over?: Record<string, any>; clock?: ManualClock } = {}) {
  const d = await startHttpDaemon(t, [dev, sleeper], opts);
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  return { ...d, obj };
}

/** [name, request Format, request Payload, wire bytes the object sees, object's answer, expected JSON answer] */
const rounds: Array<[string, string, unknown, Buffer, Payload, unknown]> = [
  ['JSON', 'JSON', { get: ['t', 1] }, Buffer.from('{"get":["t",1]}'), wire(Format.JSON, '{"t": 21.5}'), { t: 21.5 }],
  ['ASCII', 'ASCII', 'GET T', Buffer.from('GET T'), wire(Format.ASCII, 'T=21'), 'T=21'],
  ['UTF8', 'UTF8', 'température', Buffer.from('température'), wire(Format.UTF8, 'très chaud ☀'), 'très chaud ☀'],
  ['BINARY', 'BINARY', [0, 255, 16], Buffer.from([0, 255, 16]), wire(Format.BINARY, Buffer.from([9, 8])), [9, 8]],
  ['empty ASCII', 'ASCII', '', Buffer.alloc(0), wire(Format.ASCII, ''), ''],
  ['empty UTF8', 'UTF8', '', Buffer.alloc(0), wire(Format.UTF8, ''), ''],
  ['empty BINARY', 'BINARY', [], Buffer.alloc(0), wire(Format.BINARY, Buffer.alloc(0)), []],
  ['JSON null', 'JSON', null, Buffer.from('null'), wire(Format.JSON, 'null'), null],
  ['65 535 bytes each way', 'BINARY', new Array(MAX_PAYLOAD_LENGTH).fill(0xab), Buffer.alloc(MAX_PAYLOAD_LENGTH, 0xab),
    wire(Format.BINARY, Buffer.alloc(MAX_PAYLOAD_LENGTH, 0xcd)), new Array(MAX_PAYLOAD_LENGTH).fill(0xcd)],
];

t.test('POST /request round trips (PROTOCOL §8)', async (t) => {
  const { obj, post, daemon } = await setup(t);
  for (const [name, format, value, bytes, answer, expected] of rounds) {
    const pending = post('/request', { UID: dev.uid, Format: format, Payload: value });
    const req = await obj.nextOf(ToT.REQUEST);
    t.equal(req.uid, undefined, `${name}: RTE=0 toward the object`);
    t.ok(req.payload.data.equals(bytes), `${name}: the object gets the bytes`);
    t.equal(req.payload.format, ({ JSON: Format.JSON, ASCII: Format.ASCII, UTF8: Format.UTF8, BINARY: Format.BINARY } as any)[format]);
    obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: ResponseCode.NOT_VALID, payload: answer });
    const r = await pending;
    t.equal(r.status, 200);
    t.same(r.json, { Code: ResponseCode.NOT_VALID, Payload: expected, Format: Object.keys(Format).find((k) => (Format as any)[k] === answer.format) }, `${name}: answer`);
  }
  t.equal(daemon.internals.tracker.size, 0, 'nothing left in flight');
  t.equal(daemon.internals.http!.api.held, 0, 'nothing held');
});

t.test('an answer with no JSON form is a 502 carrying the object\'s Code', async (t) => {
  const { obj, post } = await setup(t);
  const bad: Array<[string, Payload]> = [
    ['invalid UTF-8', wire(Format.UTF8, Buffer.from([0x61, 0xff]))],
    ['not JSON text', wire(Format.JSON, '{oops')],
    ['unknown format', wire(0x7, 'x')],
  ];
  for (const [name, answer] of bad) {
    const pending = post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'x' });
    const req = await obj.nextOf(ToT.REQUEST);
    obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: ResponseCode.VALID, payload: answer });
    const r = await pending;
    t.equal(r.status, 502, name);
    t.same([r.json.error, r.json.Code], ['ERR_IOTS_RESPONSE_NOT_JSON', 0], `${name}: error code and the object's Code`);
  }
});

t.test('no destination: Code 160 with Payload null and the Reason', async (t) => {
  const { post } = await setup(t);
  for (const uid of ['nobody', sleeper.uid]) {
    const r = await post('/request', { UID: uid, Format: 'ASCII', Payload: 'x' });
    t.same([r.status, r.json], [200, { Code: 0xa0, Payload: null, Format: 'JSON', Reason: uid === 'nobody' ? 'not-in-acl' : 'no-session' }], `${uid}: ${uid === 'nobody' ? 'not in the ACL' : 'no session'}`);
  }
});

t.test('a kept session whose buffer is full: Code 160 with Reason session-count; the buffered one times out (161)', async (t) => {
  const clock = new ManualClock();
  const { post, daemon, port } = await setup(t, { clock, over: { keepSessionSec: 600, tcp: { requestTimeoutSec: 10 }, buffers: { maxPerSession: 1 } } });
  const s = (await RawClient.open(port, sleeper.uid, sleeper.key)).client;
  t.teardown(() => s.close());
  s.send({ type: ToT.CLOSE, code: CloseCode.SLEEP });
  for (let i = 0; i < 50 && daemon.internals.sessions.get(sleeper.uid)?.state !== 'kept'; i++) await settle();
  t.equal(daemon.internals.sessions.get(sleeper.uid)?.state, 'kept', 'the sleeper is kept');
  const buffered = post('/request', { UID: sleeper.uid, Format: 'ASCII', Payload: 'first' });
  for (let i = 0; i < 50 && daemon.internals.tracker.size === 0; i++) await settle();
  const full = await post('/request', { UID: sleeper.uid, Format: 'ASCII', Payload: 'second' });
  t.same([full.status, full.json], [200, { Code: 0xa0, Payload: null, Format: 'JSON', Reason: 'session-count' }], 'the second finds the buffer full');
  clock.advance(10_000);
  const first = await buffered;
  t.same(first.json, { Code: 0xa1, Payload: null, Format: 'JSON', Reason: 'timeout' }, 'the buffered one is answered at its timeout');
});

t.test('timeout: Code 161 after Timeout; Timeout defaults to tcp.requestTimeoutSec and is capped by http.maxWaitSec', async (t) => {
  const clock = new ManualClock();
  const { obj, post, daemon } = await setup(t, { clock, over: { tcp: { requestTimeoutSec: 10 }, http: { maxWaitSec: 30 } } });
  const cases: Array<[string, number | undefined, number]> = [['Timeout 5', 5, 5_000], ['default', undefined, 10_000], ['capped', 3600, 30_000], ['fractional', 0.5, 500]];
  for (const [name, timeout, ms] of cases) {
    let done = false;
    const pending = post('/request', { UID: dev.uid, Format: 'ASCII', Payload: name, ...(timeout === undefined ? {} : { Timeout: timeout }) });
    void pending.then(() => { done = true; });
    const req = await obj.nextOf(ToT.REQUEST);
    clock.advance(ms - 1);
    await settle();
    t.notOk(done, `${name}: still held at ${ms - 1} ms`);
    clock.advance(1);
    const r = await pending;
    t.same([r.status, r.json], [200, { Code: 0xa1, Payload: null, Format: 'JSON', Reason: 'timeout' }], `${name}: 161 at ${ms} ms`);
    obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: wire(Format.ASCII, 'late') });
  }
  obj.send({ type: ToT.PING });
  await obj.nextOf(ToT.PONG);
  t.equal(await daemon.internals.metrics.value('iotsocket_late_responses_total'), cases.length, 'late answers dropped');
});

t.test('a request to a kept session is delivered when the object comes back within the timeout', async (t) => {
  const clock = new ManualClock();
  const d = await startHttpDaemon(t, [sleeper], { clock });
  const first = (await RawClient.open(d.port, sleeper.uid, sleeper.key)).client;
  first.send({ type: ToT.CLOSE, code: CloseCode.SLEEP });
  await first.whenClosed();
  for (let i = 0; i < 200 && d.daemon.internals.sessions.get(sleeper.uid)?.state !== 'kept'; i++) await settle(1);
  const pending = d.post('/request', { UID: sleeper.uid, Timeout: 20, Format: 'UTF8', Payload: 'wake' });
  for (let i = 0; i < 200 && d.daemon.internals.tracker.size === 0; i++) await settle(1);
  t.equal(d.daemon.internals.sessions.get(sleeper.uid)?.buffer.count, 1, 'buffered while kept');
  clock.advance(19_000);
  const back = (await RawClient.open(d.port, sleeper.uid, sleeper.key)).client;
  t.teardown(() => back.close());
  const req = await back.nextOf(ToT.REQUEST);
  t.equal(req.payload.data.toString(), 'wake', 'replayed on resume');
  back.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: wire(Format.UTF8, 'awake') });
  t.same((await pending).json, { Code: 0, Payload: 'awake', Format: 'UTF8' });
});

t.test('a caller that leaves before the answer: the request still settles once, the answer is discarded', async (t) => {
  const clock = new ManualClock();
  const { obj, post, daemon, logs } = await setup(t, { clock });
  const api = daemon.internals.http!.api;
  for (const ending of ['answer', 'timeout'] as const) {
    const ac = new AbortController();
    const pending = post('/request', { UID: dev.uid, Timeout: 5, Format: 'ASCII', Payload: ending }, { signal: ac.signal }).catch((e: Error) => e);
    const req = await obj.nextOf(ToT.REQUEST);
    t.equal(api.held, 1, `${ending}: held`);
    ac.abort();
    t.type(await pending, Error, 'the caller gave up');
    await settle();
    t.equal(daemon.internals.tracker.has('down', dev.uid, req.tracking), true, 'its tracking number stays reserved until settled');
    if (ending === 'answer') obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: wire(Format.ASCII, 'ok') });
    else clock.advance(5_000);
    for (let i = 0; i < 200 && api.held > 0; i++) await settle(1);
    t.equal(api.held, 0, `${ending}: no longer held`);
    t.equal(daemon.internals.tracker.size, 0, `${ending}: settled, nothing leaks`);
  }
  t.equal(logs.find('http-answer-discarded').length, 2, 'both answers discarded and logged');
  const again = post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'next' });
  const req = await obj.nextOf(ToT.REQUEST);
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: wire(Format.ASCII, 'fine') });
  t.equal((await again).json.Payload, 'fine', 'the API still works');
});

t.test('the TCP central and HTTP can both be connected', async (t) => {
  const { obj, post, port } = await setup(t);
  const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const pending = post('/request', { UID: dev.uid, Format: 'ASCII', Payload: 'h' });
  const req = await obj.nextOf(ToT.REQUEST);
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: wire(Format.ASCII, 'to http') });
  t.equal((await pending).json.Payload, 'to http', 'the answer goes to the HTTP caller (PROTOCOL §9: not to the TCP central)');
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'the TCP central received nothing else');
});
