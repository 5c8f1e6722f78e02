import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ToT } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const dev = device('pr-1', 'Stations');

t.test('presence webhook: started, kept, resumed, ended, expired and refused, in order, with reasons', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(200, {});
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { keepSessionSec: 30, central: { webhooks: { presence: rx.url('/presence'), timeoutSec: 5 } } }), [dev], { clock });
  const events = () => rx.hits.map((h) => [h.body.Event, h.body.Reason]);
  const expectEvents = (n: number) => until(() => rx.hits.length >= n, `${n} presence events`);

  let c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  await expectEvents(1);
  c.close();
  await expectEvents(2);
  c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  await expectEvents(3);
  c.send({ type: ToT.CLOSE, code: CloseCode.MAINTENANCE });
  await expectEvents(4);
  c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  c.send({ type: ToT.CLOSE, code: CloseCode.SLEEP });
  await expectEvents(6);
  clock.advance(30_000);
  await expectEvents(7);
  const bad = await RawClient.open(d.port, dev.uid, Buffer.alloc(16, 9));
  t.notOk(bad.accepted);
  await expectEvents(8);
  t.same(events(), [
    ['started', null], ['kept', 'socket-end'], ['resumed', null], ['ended', 'closed'],
    ['started', null], ['kept', 'peer-close-0xa0'], ['expired', 'expired'], ['refused', 'bad-mac'],
  ]);
  const first = rx.hits[0]!;
  t.same(Object.keys(first.body).sort(), ['At', 'Event', 'Reason', 'UID']);
  t.equal(first.body.UID, dev.uid);
  t.ok(!Number.isNaN(Date.parse(first.body.At)), 'At is an ISO date');
  t.match(first.headers.authorization, /^Bearer [0-9a-f]{32}$/);
});

t.test('telemetry payload that cannot be converted to JSON is dropped and counted (never posted)', async (t) => {
  const rx = await WebhookReceiver.start(t);
  const d = await startDaemon(t, testConfig(t, { central: { webhooks: { telemetry: rx.url('/t'), timeoutSec: 5 } } }), []);
  d.daemon.internals.router.telemetry('x', { format: Format.UTF8, options: 0, data: Buffer.from([0xc3]) });
  t.equal(await d.daemon.internals.metrics.value('iotsocket_webhook_queue_dropped_total', { hook: 'telemetry', reason: 'unconvertible' }), 1);
  t.equal(rx.hits.length, 0);
});
