import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { ManualClock } from '../../src/clock.js';
import { createConcentrator } from '../../src/daemon.js';
import { Format, ToT, encodeDatagram, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const dev = device('dev-1');

async function setup(t: Test, over: any = {}, withCentral = true) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { ...over, udp: { enabled: true, ...over.udp } }), [dev], { clock });
  const central = withCentral ? (await RawClient.open(d.port, '', CENTRAL_KEY)).client : undefined;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central?.close(); obj.close(); });
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const udp = await UdpSender.open(t);
  const send = (payload: Payload) => udp.send(d.daemon.addresses!.udp!.port, encodeDatagram(token, payload));
  const count = (result: string, reason: string) => d.daemon.internals.metrics.value('iotsocket_telemetry_datagrams_total', { result, reason });
  return { ...d, clock, central, obj, token, udp, send, count };
}

t.test('UDP telemetry becomes Identified telemetry (ToT 6, RTE=1, UID, same payload block) on the central session', async (t) => {
  const { central, send, count } = await setup(t);
  const block: Payload = { format: Format.BINARY, options: 0x5, data: Buffer.from([0, 1, 2, 0xff]) };
  await send(block);
  await send({ format: Format.JSON, options: 0, data: Buffer.from('{"t":21.5}') });
  const a = await central!.nextOf(ToT.TELEMETRY);
  t.equal(a.uid, dev.uid, 'RTE=1 with the object UID');
  t.same([a.payload.format, a.payload.options, [...a.payload.data]], [Format.BINARY, 0x5, [0, 1, 2, 0xff]], 'payload block unchanged, options carried');
  const b = await central!.nextOf(ToT.TELEMETRY);
  t.same([b.payload.format, b.payload.data.toString()], [Format.JSON, '{"t":21.5}']);
  t.equal(await count('accepted', 'central'), 2, 'counted as accepted via the central');
});

t.test('with no central session, telemetry goes to the telemetry webhook with the Bearer key', async (t) => {
  const hook = await WebhookReceiver.start(t);
  const { send, count } = await setup(t, { central: { webhooks: { telemetry: hook.url('/telemetry') } } }, false);
  await send({ format: Format.UTF8, options: 0, data: Buffer.from('héllo') });
  const hit = await hook.next();
  t.equal(hit.path, '/telemetry');
  t.equal(hit.headers.authorization, `Bearer ${CENTRAL_KEY.toString('hex')}`, 'Bearer central key (hex)');
  t.match(hit.headers['content-type'], /^application\/json/);
  t.same(hit.body, { UID: dev.uid, Payload: 'héllo', Format: 'UTF8' });
  t.equal(await count('accepted', 'webhook'), 1);
});

t.test('with neither a central session nor a telemetry webhook, telemetry is dropped and counted', async (t) => {
  const { send, count, udp } = await setup(t, {}, false);
  await send({ format: Format.ASCII, options: 0, data: Buffer.from('x') });
  await until(async () => (await count('dropped', 'no-central')) === 1, 'the drop to be counted');
  t.equal(udp.replies.length, 0, 'no answer');
});

t.test('per-token rate limit: the excess within one second is dropped and counted', async (t) => {
  const { central, send, count, clock } = await setup(t, { udp: { maxDatagramsPerSecPerToken: 3 } });
  for (let i = 0; i < 5; i++) await send({ format: Format.ASCII, options: 0, data: Buffer.from(`a${i}`) });
  await until(async () => (await count('dropped', 'rate-limited')) === 2, 'two rate-limited drops');
  clock.advance(1000);
  await send({ format: Format.ASCII, options: 0, data: Buffer.from('b0') });
  const got: string[] = [];
  while (got.length < 4) got.push((await central!.nextOf(ToT.TELEMETRY)).payload.data.toString());
  t.same(got, ['a0', 'a1', 'a2', 'b0'], 'three in the first second, then a fresh window');
});

t.test('datagrams over maxDatagramBytes are dropped, and logged at debug with the sender', async (t) => {
  const { send, count, logs } = await setup(t, { udp: { maxDatagramBytes: 64 } });
  await send({ format: Format.ASCII, options: 0, data: Buffer.alloc(60, 0x41) });
  await until(async () => (await count('dropped', 'too-large')) === 1, 'the drop to be counted');
  t.match(logs.find('telemetry-dropped')[0], { level: 20, reason: 'too-large', peer: /^127\.0\.0\.1:\d+$/ });
});

t.test('a UDP port already in use fails start() with ERR_IOTS_PORT_IN_USE', async (t) => {
  const busy = createSocket('udp4');
  await new Promise<void>((r) => busy.bind(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => busy.close(() => r())));
  const config = testConfig(t, { udp: { enabled: true, port: busy.address().port } });
  const daemon = createConcentrator(config, { logger: (await import('pino')).pino({ level: 'silent' }) });
  t.teardown(() => daemon.close());
  await t.rejects(daemon.start(), { code: 'ERR_IOTS_PORT_IN_USE' });
});
