import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ToT, encodeDatagram, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

const dev = device('dev-1');
const other = device('dev-2');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
const MIN = 60_000;

/** A daemon (tokens live 60 min), the central connected, the object authenticated with its first token. */
async function setup(t: Test) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { udp: { enabled: true } }), [dev, other], { clock });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  const first = await obj.next();
  if (first.type !== ToT.TOKEN) throw new Error('expected a token first');
  const udp = await UdpSender.open(t);
  const udpPort = d.daemon.addresses!.udp!.port;
  const metric = (reason: string) => d.daemon.internals.metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason });
  /** Sends telemetry with `token`, then a marker with `marker`; returns what reached the central before the marker. */
  const probe = async (token: Buffer, marker: Buffer): Promise<string[]> => {
    await udp.send(udpPort, encodeDatagram(token, p('probe')));
    await udp.send(udpPort, encodeDatagram(marker, p('marker')));
    const got: string[] = [];
    for (;;) {
      const tm = await central.nextOf(ToT.TELEMETRY);
      if (tm.payload.data.toString() === 'marker') return got;
      got.push(tm.payload.data.toString());
    }
  };
  return { ...d, clock, central, obj, token: first.token, udp, udpPort, metric, probe };
}

t.test('a telemetry-group object gets a token on authentication; it carries telemetry', async (t) => {
  const { token, probe } = await setup(t);
  t.equal(token.length, 8, '8 random bytes');
  t.same(await probe(token, token), ['probe'], 'datagram with that token reaches the central');
});

t.test('renewal at 80% of the lifetime sends a new ToT 5; the old token stays valid until its own expiry', async (t) => {
  const { clock, obj, token: old, probe, metric } = await setup(t);
  clock.advance(48 * MIN - 1);
  obj.send({ type: ToT.PING });
  t.equal((await obj.next()).type, ToT.PONG, 'no renewal before 80% of 60 min');
  clock.advance(1);
  const renewed = await obj.nextOf(ToT.TOKEN);
  t.notSame(renewed.token, old, 'a different token');
  t.same(await probe(old, renewed.token), ['probe'], 'old token still valid after renewal');
  clock.advance(12 * MIN - 1);
  t.same(await probe(old, renewed.token), ['probe'], 'old token valid until the last millisecond of its life');
  clock.advance(1);
  t.same(await probe(old, renewed.token), [], 'old token dropped at its expiry');
  t.equal(await metric('unknown-token'), 1, 'counted');
  t.same(await probe(renewed.token, renewed.token), ['probe'], 'the renewed one is valid');
});

t.test('tokens survive the TCP session: out-of-session telemetry after the object disconnects', async (t) => {
  const { obj, token, probe, daemon } = await setup(t);
  obj.send({ type: ToT.CLOSE, code: CloseCode.MAINTENANCE });
  await obj.whenClosed();
  await until(() => daemon.internals.sessions.get(dev.uid) === undefined, 'the session to end');
  t.same(await probe(token, token), ['probe'], 'telemetry still accepted with no session at all');
});

t.test('an expired token is dropped and counted', async (t) => {
  const { obj, token, probe, clock, central, daemon, metric } = await setup(t);
  const marker = (await RawClient.open(daemon.addresses!.tcp.port, other.uid, other.key)).client;
  t.teardown(() => marker.close());
  const markerToken = (await marker.nextOf(ToT.TOKEN)).token;
  obj.close();
  await until(() => daemon.internals.sessions.get(dev.uid)?.state === 'kept', 'the session to be kept');
  clock.advance(60 * MIN);
  t.same(await probe(token, (await marker.nextOf(ToT.TOKEN)).token), [], 'expired token dropped');
  t.equal(await metric('unknown-token'), 1, 'counted as unknown-token');
  t.notOk(markerToken.equals(token), 'tokens are per object');
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
});

t.test('removing the object from the ACL revokes its tokens', async (t) => {
  const { central, obj, token, probe, daemon } = await setup(t);
  const keep = (await RawClient.open(daemon.addresses!.tcp.port, other.uid, other.key)).client;
  t.teardown(() => keep.close());
  const keepToken = (await keep.nextOf(ToT.TOKEN)).token;
  central.send({ type: ToT.ACL, entries: [{ group: other.group, uid: other.uid, key: other.key }] });
  t.equal((await obj.nextOf(ToT.CLOSE)).code, CloseCode.MAINTENANCE, 'removed object closed');
  t.same(await probe(token, keepToken), [], 'its token is revoked');
  t.same(await probe(keepToken, keepToken), ['probe'], "the remaining object's token still works");
});

t.test('unknown token and bad sizes are dropped with 0 reply bytes', async (t) => {
  const { udp, udpPort, token, probe, metric } = await setup(t);
  const good = encodeDatagram(token, p('hello'));
  await udp.send(udpPort, Buffer.concat([good, Buffer.from([0])])); // one byte too many
  await udp.send(udpPort, good.subarray(0, good.length - 1)); // one byte short
  await udp.send(udpPort, Buffer.alloc(5)); // shorter than a header
  await udp.send(udpPort, Buffer.alloc(0));
  t.same(await probe(Buffer.alloc(8, 0xee), token), [], 'unknown token dropped');
  t.equal(await metric('bad-size'), 4, 'bad sizes counted');
  t.equal(await metric('unknown-token'), 1, 'unknown token counted');
  // Anything the daemon had sent would have been queued to our socket before the marker was processed.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.equal(udp.replies.length, 0, 'nothing ever comes back');
});
