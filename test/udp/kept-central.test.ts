import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ToT, encodeDatagram, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

const dev = device('dev-1');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

t.test('telemetry for a kept central (no telemetry webhook) is buffered, up to half its buffer, and replayed in order on resume', async (t) => {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { keepSessionSec: 60, udp: { enabled: true }, buffers: { maxPerSession: 4 } }), [dev], { clock });
  const { sessions, metrics } = d.daemon.internals;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  const { token } = await obj.nextOf(ToT.TOKEN);
  central.close();
  await until(() => sessions.get('')?.state === 'kept', 'the central session to be kept');
  const udp = await UdpSender.open(t);
  for (let i = 1; i <= 4; i++) await udp.send(d.daemon.addresses!.udp!.port, encodeDatagram(token, p(`t${i}`)));
  const dropped = () => metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'session-count' });
  await until(async () => (await dropped()) === 2, 'two datagrams over half the buffer to be dropped');
  t.equal(sessions.get('')!.buffer.count, 2, 'two buffered: half of buffers.maxPerSession');
  obj.send({ type: ToT.REQUEST, tracking: 1, payload: p('still room for requests') });
  await until(() => sessions.get('')!.buffer.count === 3, 'the object\'s request to be buffered, not refused');
  const back = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => back.close());
  const got = [];
  for (let i = 0; i < 3; i++) {
    const x = await back.next();
    got.push(x.type === ToT.TELEMETRY ? x.payload.data.toString() : x.type === ToT.REQUEST ? `request ${x.tracking}` : `type ${x.type}`);
  }
  t.same(got, ['t1', 't2', 'request 1'], 'replayed in order');
});
