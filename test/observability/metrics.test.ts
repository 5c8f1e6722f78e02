import t from 'tap';
import { Metrics } from '../../src/observability/metrics.js';

t.test('handshakes and session events are counted locally and exported on every read, once', async (t) => {
  const m = new Metrics();
  m.countHandshake('accepted', 'object');
  m.countHandshake('accepted', 'object');
  m.countHandshake('refused', 'bad-mac');
  m.countSessionEvent('object', 'started');
  t.equal(await m.value('iotsocket_handshakes_total', { result: 'accepted', reason: 'object' }), 2);
  t.equal(await m.value('iotsocket_handshakes_total', { result: 'refused', reason: 'bad-mac' }), 1);
  t.equal(await m.value('iotsocket_session_events_total', { kind: 'object', event: 'started' }), 1);
  // A second read adds nothing that was already flushed; new counts are added.
  m.countHandshake('accepted', 'object');
  t.equal(await m.value('iotsocket_handshakes_total', { result: 'accepted', reason: 'object' }), 3);
  t.equal(await m.value('iotsocket_handshakes_total'), 4);
  t.match(await m.registry.metrics(), /iotsocket_session_events_total\{kind="object",event="started"\} 1/);
});

t.test('telemetry counts keep their labels', async (t) => {
  const m = new Metrics();
  m.countTelemetry('dropped', 'bad-token');
  t.equal(await m.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'bad-token' }), 1);
});
