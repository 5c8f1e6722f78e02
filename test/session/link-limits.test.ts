import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ResponseCode, ToT, encodeDatagram, transmissionLength, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

// PROTOCOL §3: a peer announces the largest transmission it takes; nothing larger is ever written to it.
const dev = device('dev-1');
const bytes = (n: number, c = 'x'): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(c.repeat(n)) });
const MAX = 64;

async function setup(t: Test, over: any = {}) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { keepSessionSec: 60, tcp: { requestTimeoutSec: 30 }, udp: { enabled: true }, ...over }), [dev], { clock });
  const open = async (uid: string, key: Buffer, maxLength = 0) => {
    const c = (await RawClient.open(d.port, uid, key, { maxLength })).client;
    t.teardown(() => c.close());
    return c;
  };
  const metric = (name: string, labels: Record<string, string>) => d.daemon.internals.metrics.value(name, labels);
  return { ...d, clock, open, metric };
}

/** The largest payload whose transmission of `type` still fits in MAX. */
function fitting(make: (p: Payload) => Parameters<typeof transmissionLength>[0]): number {
  let n = 0;
  while (transmissionLength(make(bytes(n + 1))) <= MAX) n++;
  return n;
}

t.test('identified telemetry larger than the central\'s maximum is dropped and counted (too-large), not written', async (t) => {
  const { daemon, open, metric } = await setup(t);
  const central = await open('', CENTRAL_KEY, MAX);
  const obj = await open(dev.uid, dev.key);
  const { token } = await obj.nextOf(ToT.TOKEN);
  const udp = await UdpSender.open(t);
  const n = fitting((payload) => ({ type: ToT.TELEMETRY, uid: dev.uid, payload }));
  await udp.send(daemon.addresses!.udp!.port, encodeDatagram(token, bytes(n + 1, 'b')));
  await udp.send(daemon.addresses!.udp!.port, encodeDatagram(token, bytes(n, 'f')));
  const got = await central.nextOf(ToT.TELEMETRY);
  t.equal(got.payload.data.toString(), 'f'.repeat(n), 'the one that fits arrives; the one a byte larger did not come first');
  t.equal(await metric('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'too-large' }), 1, 'counted as dropped, too-large');
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'nothing else was written');
});

t.test('a buffered request larger than the resuming connection\'s maximum is answered 0xA0 once, never written', async (t) => {
  const { daemon, open, clock } = await setup(t);
  const central = await open('', CENTRAL_KEY);
  const first = await open(dev.uid, dev.key); // announces no limit: the big request is buffered
  first.send({ type: ToT.CLOSE, code: CloseCode.SLEEP });
  await until(() => daemon.internals.sessions.get(dev.uid)?.state === 'kept', 'the object session to be kept');
  const n = fitting((payload) => ({ type: ToT.REQUEST, tracking: 1, payload }));
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: bytes(n + 1, 'b') });
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: bytes(n, 'f') });
  await until(() => daemon.internals.sessions.get(dev.uid)?.buffer.count === 2, 'both requests to be buffered');
  const back = await open(dev.uid, dev.key, MAX);
  const r = await central.nextOf(ToT.RESPONSE);
  t.same([r.uid, r.tracking, r.code], [dev.uid, 1, ResponseCode.NOT_FOUND], 'the origin is answered 0xA0');
  const q = await back.nextOf(ToT.REQUEST);
  t.same([q.tracking, q.payload.data.length], [2, n], 'only the request that fits is replayed');
  t.equal(daemon.internals.tracker.inFlight('down', dev.uid), 1, 'the refused one is no longer tracked');
  clock.advance(30_000);
  const timeout = await central.nextOf(ToT.RESPONSE);
  t.same([timeout.tracking, timeout.code], [2, ResponseCode.TIMEOUT], 'only the delivered one times out');
  central.send({ type: ToT.PING });
  t.equal((await central.next()).type, ToT.PONG, 'tracking 1 was answered exactly once');
});

t.test('a buffered response larger than the resuming central\'s maximum is dropped and counted, never written', async (t) => {
  const { daemon, open, metric } = await setup(t);
  const central = await open('', CENTRAL_KEY);
  const obj = await open(dev.uid, dev.key);
  await obj.nextOf(ToT.TOKEN);
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: bytes(1) });
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: bytes(1) });
  await obj.nextOf(ToT.REQUEST);
  await obj.nextOf(ToT.REQUEST);
  central.close();
  await until(() => daemon.internals.sessions.get('')?.state === 'kept', 'the central session to be kept');
  const n = fitting((payload) => ({ type: ToT.RESPONSE, uid: dev.uid, tracking: 1, code: 0, payload }));
  obj.send({ type: ToT.RESPONSE, tracking: 1, code: 0, payload: bytes(n + 1, 'b') });
  obj.send({ type: ToT.RESPONSE, tracking: 2, code: 0, payload: bytes(n, 'f') });
  await until(() => daemon.internals.sessions.get('')?.buffer.count === 2, 'both responses to be buffered');
  const back = await open('', CENTRAL_KEY, MAX);
  const r = await back.nextOf(ToT.RESPONSE);
  t.same([r.tracking, r.payload.data.length], [2, n], 'only the response that fits is replayed');
  t.equal(await metric('iotsocket_transmissions_dropped_total', { reason: 'too-large' }), 1, 'the other is counted as dropped, too-large');
  back.send({ type: ToT.PING });
  t.equal((await back.next()).type, ToT.PONG, 'nothing else was written');
});

t.test('buffered telemetry larger than the resuming central\'s maximum is dropped and counted with the datagrams, never written', async (t) => {
  const { daemon, open, metric } = await setup(t);
  const central = await open('', CENTRAL_KEY); // announces no limit
  const obj = await open(dev.uid, dev.key);
  const { token } = await obj.nextOf(ToT.TOKEN);
  central.close();
  await until(() => daemon.internals.sessions.get('')?.state === 'kept', 'the central session to be kept');
  const udp = await UdpSender.open(t);
  const n = fitting((payload) => ({ type: ToT.TELEMETRY, uid: dev.uid, payload }));
  await udp.send(daemon.addresses!.udp!.port, encodeDatagram(token, bytes(n + 1, 'b')));
  await udp.send(daemon.addresses!.udp!.port, encodeDatagram(token, bytes(n, 'f')));
  await until(() => daemon.internals.sessions.get('')?.buffer.count === 2, 'both datagrams to be buffered for the kept central');
  const back = await open('', CENTRAL_KEY, MAX);
  const got = await back.nextOf(ToT.TELEMETRY);
  t.equal(got.payload.data.toString(), 'f'.repeat(n), 'only the telemetry that fits is replayed');
  t.equal(await metric('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'too-large' }), 1, 'the other counted as a dropped datagram, too-large');
  back.send({ type: ToT.PING });
  t.equal((await back.next()).type, ToT.PONG, 'nothing else was written');
});
