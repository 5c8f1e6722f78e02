import t from 'tap';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const dev = device('taken-1');

t.test('a takeover is its own event: session-taken-over with both peers, counted in /metrics, not a resume', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const first = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  const second = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { first.close(); second.close(); });
  t.equal((await first.nextOf(ToT.CLOSE)).code, CloseCode.FREEING_RESOURCES, 'the older connection got Close 0xA1');
  const peer = (c: RawClient) => `127.0.0.1:${c.socket.localPort}`;
  await until(() => d.logs.find('session-taken-over').length > 0, 'the session-taken-over line');
  t.match(d.logs.find('session-taken-over'), [{ uid: dev.uid, kind: 'object', from: peer(first), to: peer(second), peer: peer(second) }], 'both peers: from the older, to the newer');
  t.equal(d.logs.find('session-resumed').length, 0, 'a takeover is not logged as a resume');
  const m = d.daemon.internals.metrics;
  t.equal(await m.value('iotsocket_session_events_total', { kind: 'object', event: 'taken-over' }), 1, 'counted');
  t.equal(await m.value('iotsocket_session_events_total', { kind: 'object', event: 'resumed' }), 0, 'not as a resume');
  t.match(await m.registry.metrics(), /iotsocket_session_events_total\{kind="object",event="taken-over"\} 1/, 'on /metrics');

  // A real resume (from kept) stays a resume.
  await first.whenClosed();
  second.socket.destroy();
  await until(() => d.daemon.internals.sessions.get(dev.uid)?.state === 'kept', 'the session kept after the drop');
  const third = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => third.close());
  await until(() => d.logs.find('session-resumed').length === 1, 'one session-resumed');
  t.equal(d.logs.find('session-taken-over').length, 1, 'still one takeover');
});

t.test('presence webhook: a takeover is Event resumed with Reason taken-over', async (t) => {
  const rx = await WebhookReceiver.start(t);
  rx.answer = (h) => h.reply(200, {});
  const d = await startDaemon(t, testConfig(t, { central: { webhooks: { presence: rx.url('/presence'), timeoutSec: 5 } } }), [dev]);
  const first = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  const second = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { first.close(); second.close(); });
  await until(() => rx.hits.length >= 2, 'two presence events');
  t.same(rx.hits.map((h) => [h.body.Event, h.body.Reason]), [['started', null], ['resumed', 'taken-over']]);
});
