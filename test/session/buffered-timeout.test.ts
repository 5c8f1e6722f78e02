import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

const dev = device('dev-1', 'Stations');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
const get = { method: 'GET' as const, contentType: null };

t.test('a buffered request answered 0xA1 leaves the buffer then: /sessions Buffered and the budget drop at once', async (t) => {
  const clock = new ManualClock();
  const d = await startHttpDaemon(t, [dev], { clock, over: { keepSessionSec: 600, tcp: { requestTimeoutSec: 30 } } });
  const { sessions } = d.daemon.internals;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  obj.close();
  await until(() => sessions.get(dev.uid)?.state === 'kept', 'the object session to be kept');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: p('early') });
  await until(() => sessions.get(dev.uid)?.buffer.count === 1, 'the first request to be buffered');
  clock.advance(10_000);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: p('later') });
  await until(() => sessions.get(dev.uid)?.buffer.count === 2, 'the second request to be buffered');
  const before = sessions.budget.used;
  const buffered = async () => (await d.post(`/sessions/${dev.uid}`, undefined, get)).json.Buffered;
  t.equal(await buffered(), 2, 'both shown as buffered');
  clock.advance(20_000); // the first times out
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.code], [1, ResponseCode.TIMEOUT], 'its origin got 0xA1');
  t.equal(await buffered(), 1, '/sessions shows only what will still be delivered');
  t.ok(sessions.budget.used < before && sessions.budget.used > 0, 'its bytes are returned to the budget, the other\'s are not');
  t.equal(sessions.get(dev.uid)!.buffer.bytes, sessions.budget.used, 'the session\'s byte count agrees with the budget');
  clock.advance(10_000); // the second times out too
  t.same((await central.nextOf(ToT.RESPONSE)).tracking, 2);
  t.same([await buffered(), sessions.budget.used], [0, 0], 'an empty buffer and a full budget');
});

t.test('a buffered request freed by its timeout makes room for a new one (the per-session count)', async (t) => {
  const clock = new ManualClock();
  const d = await startHttpDaemon(t, [dev], { clock, over: { keepSessionSec: 600, tcp: { requestTimeoutSec: 30 }, buffers: { maxPerSession: 1 } } });
  const { sessions } = d.daemon.internals;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  obj.close();
  await until(() => sessions.get(dev.uid)?.state === 'kept', 'the object session to be kept');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: p('a') });
  await until(() => sessions.get(dev.uid)?.buffer.count === 1, 'the request to be buffered');
  clock.advance(30_000);
  t.equal((await central.nextOf(ToT.RESPONSE)).code, ResponseCode.TIMEOUT);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: p('b') });
  await until(() => sessions.get(dev.uid)?.buffer.count === 1, 'the new request to be buffered');
  const back = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => back.close());
  t.equal((await back.nextOf(ToT.REQUEST)).tracking, 2, 'the new request is delivered on resume, not refused 0xA0');
});
