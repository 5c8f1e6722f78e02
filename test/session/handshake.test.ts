import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import {
  CloseCode, ToT, TransmissionParser, computeMac, encodeAuthAnswer, encodeInitiation, encodeTransmission,
} from '../../src/protocol/index.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { settle } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

const dev = device('dev-1');

/** A close the test expects: bounded, so a missing one fails by name instead of at tap's timeout. */
const closed = (c: RawClient, what: string) => until(() => c.closed, what, 3000);
const certs = generateSelfSigned();

async function tlsConfig(t: any, over: any = {}) {
  const c = testConfig(t, over);
  const { cert, key } = await certs;
  writeFileSync(join(c.baseDir, 'server.crt'), cert);
  writeFileSync(join(c.baseDir, 'server.key'), key);
  return { ...c, tcp: { ...c.tcp, tls: { cert: join(c.baseDir, 'server.crt'), key: join(c.baseDir, 'server.key') } } };
}

t.test('wrong version is refused with OK=0 and the connection closes', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  c.write(encodeInitiation({ tls: false, version: 2, options: 0, maxTransmissionLength: 0 }));
  const a = await c.readAnswer();
  t.equal(a.ok, false);
  await closed(c, 'the daemon to close after refusing the version');
  t.equal(d.logs.find('handshake-refused')[0]?.reason, 'bad-version', 'logged with its reason');
});

t.test('TLS asked but not configured is refused with OK=0', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  c.write(encodeInitiation({ tls: true, version: 1, options: 0, maxTransmissionLength: 0 }));
  t.equal((await c.readAnswer()).ok, false);
});

t.test('bad MAC and unknown UID are refused with 0x00; refusals logged without keys', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const bad = await RawClient.open(d.port, dev.uid, Buffer.alloc(16, 7));
  t.equal(bad.accepted, false, 'bad MAC refused');
  await closed(bad.client, 'the daemon to close after the bad MAC');
  const unknown = await RawClient.open(d.port, 'ghost', dev.key);
  t.equal(unknown.accepted, false, 'unknown UID refused');
  await closed(unknown.client, 'the daemon to close after the unknown UID');
  const central = await RawClient.open(d.port, '', dev.key);
  t.equal(central.accepted, false, 'central with a wrong key refused');
  central.client.close();
  const reasons = d.logs.find('handshake-refused').map((l) => l.reason);
  t.same(reasons.slice(0, 2), ['bad-mac', 'unknown-uid']);
  const all = d.logs.raw.join('\n').toLowerCase();
  t.notOk(all.includes(dev.key.toString('hex')), 'device key never logged');
  t.notOk(all.includes(CENTRAL_KEY.toString('hex')), 'central key never logged');
  t.equal(await d.daemon.internals.metrics.value('iotsocket_handshakes_total', { result: 'refused', reason: 'bad-mac' }), 2, 'counted: the device and the central');
});

t.test('TLS session: upgrade in-stream after the 2-byte answer, then request/response', async (t) => {
  const d = await startDaemon(t, await tlsConfig(t), [dev]);
  const { cert } = await certs;
  const central = await RawClient.open(d.port, '', CENTRAL_KEY, { tls: { ca: cert } });
  const obj = await RawClient.open(d.port, dev.uid, dev.key, { tls: { ca: cert } });
  t.teardown(() => { central.client.close(); obj.client.close(); });
  t.ok(central.accepted && obj.accepted, 'both authenticate over TLS');
  central.client.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 1, payload: { format: 1, options: 0, data: Buffer.from('tls') } });
  const req = await obj.client.nextOf(ToT.REQUEST);
  t.equal(req.payload.data.toString(), 'tls');
  obj.client.send({ type: ToT.RESPONSE, tracking: 1, code: 0, payload: req.payload });
  t.equal((await central.client.nextOf(ToT.RESPONSE)).payload.data.toString(), 'tls');
  t.equal(d.logs.find('session-started').filter((l) => l.tls).length, 2, 'sessions logged as TLS');
});

t.test('plaintext pipelined after a TLS initiation is never parsed as protocol', async (t) => {
  const d = await startDaemon(t, await tlsConfig(t), [dev]);
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  const fakeAuth = encodeAuthAnswer(dev.uid, computeMac(dev.key, Buffer.alloc(16)));
  c.write(Buffer.concat([encodeInitiation({ tls: true, version: 1, options: 0, maxTransmissionLength: 0 }), fakeAuth]));
  t.equal((await c.readAnswer()).ok, true);
  await closed(c, 'the daemon to close the TLS socket fed plaintext');
  t.equal(d.logs.find('handshake-refused')[0]?.reason, 'tls-failed');
  t.equal(d.daemon.internals.sessions.store.size, 0, 'no session');
});

t.test('handshake deadline: a stalled client is disconnected (injected clock)', async (t) => {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { tcp: { handshakeTimeoutSec: 10 } }), [dev], { clock });
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  c.write(encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }));
  await c.readAnswer();
  await c.read(16); // the challenge; now stall
  clock.advance(9_999);
  await settle(); // a socket destroyed now would have emitted 'close' on the daemon's side by then
  t.equal(d.daemon.internals.host.connectionCount, 1, 'still open 1 ms before the deadline');
  t.notOk(c.closed, 'the client sees no close either');
  clock.advance(1);
  await closed(c, 'the stalled client to be disconnected at the 10 s handshake deadline');
  t.equal(d.logs.find('handshake-refused')[0]?.reason, 'timeout', 'refused as a timeout');
  await until(() => d.daemon.internals.host.connectionCount === 0, 'the daemon to drop the stalled socket', 2000);
  t.equal(d.daemon.internals.sessions.store.size, 0, 'no session');
});

t.test('an initiation and an answer that arrive in pieces are read whole; the session then works', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  // One write per byte, a turn apart: the daemon reads them as separate chunks (noDelay on both sides).
  const trickle = async (bytes: Buffer) => {
    for (const b of bytes) {
      c.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
  };
  await trickle(encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }));
  t.equal((await c.readAnswer()).ok, true);
  const challenge = await c.read(16);
  await trickle(encodeAuthAnswer(dev.uid, computeMac(dev.key, challenge)));
  t.same([...(await c.read(1))], [0x01], 'accepted');
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'connected', 'the session started');
  c.send({ type: ToT.PING });
  // What comes first may be the object's telemetry token; read on to the Pong.
  const parser = new TransmissionParser(1 << 16);
  const got: number[] = [];
  for (let i = 0; i < 1000 && !got.includes(ToT.PONG); i++) parser.push(await c.read(1), (x) => got.push(x.type));
  t.ok(got.includes(ToT.PONG), 'the session answers a Ping');
});

t.test('bytes before the challenge are a protocol error (Close 0x00)', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const c = await RawClient.connect(d.port);
  t.teardown(() => c.close());
  c.write(Buffer.concat([encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }), Buffer.from('junk')]));
  t.same([...(await c.read(2))], [0xf0, CloseCode.PROTOCOL_ERROR]);
  await closed(c, 'the daemon to close after Close 0x00');
});

t.test('takeover: a newer connection of the same UID wins; the session goes on', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const first = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  const second = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); first.close(); second.close(); });
  const close = await first.nextOf(ToT.CLOSE);
  t.equal(close.code, CloseCode.FREEING_RESOURCES, 'older connection told 0xA1 and closed');
  await closed(first, 'the older connection to close after its 0xA1');
  central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: 3, payload: { format: 0, options: 0, data: Buffer.from([1]) } });
  t.equal((await second.nextOf(ToT.REQUEST)).tracking, 3, 'requests reach the newer connection');
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'connected', 'session stays connected after the old socket closed');
});

t.test('protocol errors after auth close with 0x00 and end the session', async (t) => {
  const cases: Array<[string, 'central' | 'object', Buffer]> = [
    ['ACL from an object', 'object', encodeTransmission({ type: ToT.ACL, entries: [] })],
    ['RTE=1 from an object', 'object', encodeTransmission({ type: ToT.REQUEST, uid: 'x', tracking: 1, payload: { format: 0, options: 0, data: Buffer.alloc(0) } })],
    ['token from an object', 'object', encodeTransmission({ type: ToT.TOKEN, token: Buffer.alloc(8) })],
    ['telemetry from the central', 'central', encodeTransmission({ type: ToT.TELEMETRY, uid: 'x', payload: { format: 0, options: 0, data: Buffer.alloc(0) } })],
    ['RTE=0 request from the central', 'central', encodeTransmission({ type: ToT.REQUEST, tracking: 1, payload: { format: 0, options: 0, data: Buffer.alloc(0) } })],
    ['unknown ToT', 'object', Buffer.from([0x70])],
    ['invalid UTF-8 UID', 'central', Buffer.concat([Buffer.from([0x38]), Buffer.alloc(16, 0xff), Buffer.from([0, 1, 0, 0, 0])])],
  ];
  for (const [name, who, bytes] of cases) {
    await t.test(name, async (t) => {
      const d = await startDaemon(t, testConfig(t), [dev]);
      const c = (await RawClient.open(d.port, who === 'central' ? '' : dev.uid, who === 'central' ? CENTRAL_KEY : dev.key)).client;
      t.teardown(() => c.close());
      c.write(bytes);
      const close = await c.nextOf(ToT.CLOSE);
      t.equal(close.code, CloseCode.PROTOCOL_ERROR);
      await closed(c, 'the daemon to close after Close 0x00');
      t.equal(d.daemon.internals.sessions.store.size, 0, 'session ended, not kept');
    });
  }
});

t.test('a transmission over the configured maximum gets Close 0x02', async (t) => {
  const d = await startDaemon(t, testConfig(t, { tcp: { maxTransmissionBytes: 100 } }), [dev]);
  const c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => c.close());
  c.send({ type: ToT.REQUEST, tracking: 1, payload: { format: 0, options: 0, data: Buffer.alloc(200) } });
  t.equal((await c.nextOf(ToT.CLOSE)).code, CloseCode.TOO_MANY);
});

t.test('a TLS session counts once toward tcp.maxConnections', async (t) => {
  const d = await startDaemon(t, await tlsConfig(t, { tcp: { maxConnections: 2 } }), [dev]);
  const { cert } = await certs;
  const first = await RawClient.open(d.port, dev.uid, dev.key, { tls: { ca: cert } });
  t.teardown(() => first.client.close());
  t.equal(d.daemon.internals.host.connectionCount, 1, 'one connection, not the raw socket and the TLS socket');
  const second = await RawClient.open(d.port, '', CENTRAL_KEY, { tls: { ca: cert } });
  t.teardown(() => second.client.close());
  t.ok(second.accepted, 'a second TLS client fits in maxConnections: 2');
  first.client.close();
  second.client.close();
  for (let i = 0; i < 100 && d.daemon.internals.host.connectionCount > 0; i++) await new Promise((r) => setImmediate(r));
  await closed(first.client, 'the first TLS client socket to close');
  for (let i = 0; i < 200 && d.daemon.internals.host.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(d.daemon.internals.host.connectionCount, 0, 'back to zero once both closed');
});

t.test('a plain session: its close leaves the connection count (the connection tells the host, not a listener of its own)', async (t) => {
  const d = await startDaemon(t, testConfig(t), [dev]);
  for (let round = 0; round < 2; round++) {
    const { client } = await RawClient.open(d.port, dev.uid, dev.key);
    t.teardown(() => client.close());
    await until(() => d.daemon.internals.sessions.get(dev.uid)?.state === 'connected', 'the session attached');
    t.equal(d.daemon.internals.host.connectionCount, 1, `round ${round}: one connection`);
    client.close();
    await until(() => d.daemon.internals.host.connectionCount === 0, 'the closed socket forgotten', 3000);
  }
  t.pass('forgotten each time');
});
