import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ResponseCode, ToT, encodeTransmission, type Payload, type Transmission } from '../../src/protocol/index.js';
import type { Connection } from '../../src/session/connection.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

const dev = device('dev-1', 'Stations');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
const N = 5;

/** What identifies one transmission for the central, whatever its type. */
function label(x: Transmission): string {
  if (x.type === ToT.RESPONSE) return `response ${x.tracking} ${x.payload.data.toString()}`;
  if (x.type === ToT.TELEMETRY) return `telemetry ${x.payload.data.toString()}`;
  if (x.type === ToT.REQUEST) return `request ${x.tracking} ${x.payload.data.toString()}`;
  return `type ${x.type}`;
}

async function setup(t: Test) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { keepSessionSec: 60, tcp: { requestTimeoutSec: 30 } }), [dev], { clock });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  // N requests reach the object, so N responses can be pending for the central.
  for (let i = 1; i <= N; i++) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: i, payload: p(`q${i}`) });
  for (let i = 1; i <= N; i++) await obj.nextOf(ToT.REQUEST);
  return { ...d, clock, central, obj };
}

/**
 * Queues, in one loop turn, responses, telemetry and object requests for the central: what the
 * router does when they arrive from objects and UDP. Returns the labels in the order queued.
 */
function queueForCentral(router: any): string[] {
  const want: string[] = [];
  for (let i = 1; i <= N; i++) {
    router.objectResponse(dev.uid, i, 0, p(`a${i}`));
    want.push(`response ${i} a${i}`);
    router.telemetry(dev.uid, p(`t${i}`));
    want.push(`telemetry t${i}`);
  }
  router.objectRequest(dev.uid, 40, p('up'));
  want.push('request 40 up');
  return want;
}

const drops: Array<[string, (central: RawClient, conn: Connection) => void]> = [
  // The RST is in the daemon's kernel socket before the flush: its write fails.
  ['the central resets its connection (RST) before the queue is flushed', (central) => central.socket.resetAndDestroy()],
  // The socket is gone before the flush runs (an error, the idle check): the queue is never written.
  ['the daemon side is destroyed before the queue is flushed', (_central, conn) => conn.destroy('error')],
];

for (const [name, drop] of drops) {
  t.test(`${name}: everything queued is buffered for the kept session and replayed in order, once`, async (t) => {
    const { daemon, central, obj, port } = await setup(t);
    const { sessions, router, tracker } = daemon.internals;
    const conn = sessions.get('')!.link as Connection;
    const want = queueForCentral(router);
    drop(central, conn);
    await until(() => sessions.get('')?.state === 'kept', 'the central session to be kept');
    t.equal(sessions.get('')!.buffer.count, want.length, 'every queued transmission is in the kept session\'s buffer');
    const back = (await RawClient.open(port, '', CENTRAL_KEY)).client;
    t.teardown(() => back.close());
    const got: string[] = [];
    while (got.length < want.length) got.push(label(await back.next()));
    t.same(got, want, 'all replayed, in the order they were queued');
    back.send({ type: ToT.RESPONSE, uid: dev.uid, tracking: 40, code: 0, payload: p('down') });
    const r = await obj.nextOf(ToT.RESPONSE);
    t.same([r.tracking, r.payload.data.toString()], [40, 'down'], 'the object\'s request was answered by the resumed central');
    back.send({ type: ToT.PING });
    t.equal((await back.next()).type, ToT.PONG, 'nothing else arrived: each exactly once');
    t.equal(tracker.size, 0, 'no request left pending');
  });
}

t.test('a Close 0xA0 read with answers still queued for the central: they are buffered for its kept session, in order', async (t) => {
  const { daemon, central, port } = await setup(t);
  const { sessions } = daemon.internals;
  // In one chunk: requests to a UID not in the ACL (answered 0xA0 at once, queued for the
  // central), then the central's Close 0xA0. The queue is not flushed before the Close is read.
  const requests = [1, 2, 3].map((i) => encodeTransmission({ type: ToT.REQUEST, uid: 'nobody', tracking: 100 + i, payload: p('?') }));
  central.write(Buffer.concat([...requests, encodeTransmission({ type: ToT.CLOSE, code: CloseCode.SLEEP })]));
  await until(() => sessions.get('')?.state === 'kept', 'the central session to be kept');
  t.equal(sessions.get('')!.buffer.count, 3, 'the three answers are buffered');
  const back = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  t.teardown(() => back.close());
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await back.nextOf(ToT.RESPONSE));
  t.same(got.map((r) => [r.uid, r.tracking, r.code]), [101, 102, 103].map((n) => ['nobody', n, ResponseCode.NOT_FOUND]), 'replayed in order on resume');
});

t.test('requests queued for an object whose connection drops before the flush: buffered for its kept session, replayed in order, answered once', async (t) => {
  const { daemon, central, obj, port } = await setup(t);
  const { sessions, router, tracker } = daemon.internals;
  for (let i = 1; i <= N; i++) obj.send({ type: ToT.RESPONSE, tracking: i, code: 0, payload: p(`a${i}`) }); // settle setup's requests
  for (let i = 1; i <= N; i++) await central.nextOf(ToT.RESPONSE);
  const conn = sessions.get(dev.uid)!.link as Connection;
  for (let i = 1; i <= N; i++) router.centralRequest(dev.uid, 200 + i, p(`d${i}`)); // queued for the object in this turn
  conn.destroy('error');
  obj.close();
  await until(() => sessions.get(dev.uid)?.state === 'kept', 'the object session to be kept');
  t.equal(sessions.get(dev.uid)!.buffer.count, N, 'the queued requests are in its buffer');
  t.equal(tracker.size, N, 'each still tracked, not answered');
  const back = (await RawClient.open(port, dev.uid, dev.key)).client;
  t.teardown(() => back.close());
  const got = [];
  for (let i = 0; i < N; i++) got.push(await back.nextOf(ToT.REQUEST));
  t.same(got.map((r) => [r.tracking, r.payload.data.toString()]), Array.from({ length: N }, (_, i) => [201 + i, `d${i + 1}`]), 'replayed in order');
  for (const r of got) back.send({ type: ToT.RESPONSE, tracking: r.tracking, code: 0, payload: p(`r${r.tracking}`) });
  const answers = [];
  for (let i = 0; i < N; i++) answers.push(await central.nextOf(ToT.RESPONSE));
  t.same(answers.map((a) => a.tracking), [201, 202, 203, 204, 205], 'each answered once, to the central');
  t.equal(tracker.size, 0);
});
