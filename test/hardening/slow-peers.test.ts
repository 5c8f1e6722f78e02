import t from 'tap';
import { connect, type Socket } from 'node:net';
import { ManualClock } from '../../src/clock.js';
import { computeMac, encodeAuthAnswer, encodeInitiation } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { fdCount, pool, size, until } from '../helpers/stress.js';

// Slowloris before authentication: idle sockets and sockets that drip one byte per second all
// end at the absolute handshake deadline (one timer from accept, not reset by traffic).
t.test('idle and slow-drip sockets before auth are closed at the deadline; a real device still gets in', async (t) => {
  const clock = new ManualClock();
  const timeoutSec = 10;
  const dev = device('legit');
  const d = await startDaemon(t, testConfig(t, {
    tcp: { handshakeTimeoutSec: timeoutSec, maxConnections: 10_000 },
    limits: { acceptPerSec: 1e9, authFailuresPerMinute: 1e9 },
  }), [dev], { clock, logLevel: 'warn' });
  const fd0 = fdCount();
  const idleN = size(50, 1000);
  const dripN = size(50, 1000);
  const sockets: Socket[] = [];
  let closed = 0;
  const open = () => new Promise<Socket>((resolve, reject) => {
    const s = connect({ port: d.port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.once('close', () => closed++);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    s.resume();
    sockets.push(s);
  });
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  const t0 = Date.now();
  const idle = Array.from({ length: idleN }, () => undefined);
  const drip = Array.from({ length: dripN }, () => undefined);
  await pool(idle, 100, async () => void await open());
  const drippers: Socket[] = [];
  await pool(drip, 100, async () => void drippers.push(await open()));
  // The daemon has accepted them all (its own count) before the clock starts moving.
  t.ok(await until(() => d.daemon.internals.host.connectionCount === idleN + dripN, 10_000), 'all accepted');

  // One byte per second: a plausible opening (plain initiation then the start of an auth answer).
  const stream = Buffer.concat([encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }), encodeAuthAnswer('slow', Buffer.alloc(32))]);
  for (let sec = 0; sec < timeoutSec - 1; sec++) {
    for (const s of drippers) s.write(stream.subarray(sec, sec + 1));
    await until(() => false, 5); // let the daemon read them
    clock.advance(1000);
  }
  clock.advance(999);
  await until(() => false, 20);
  t.equal(closed, 0, 'nothing closed before the deadline');

  // A legitimate device connecting now is not starved by the hostile sockets.
  const ok = await RawClient.open(d.port, dev.uid, dev.key);
  t.teardown(() => ok.client.close());
  t.ok(ok.accepted, 'a legitimate device authenticates while they hang');

  clock.advance(1);
  const allClosed = await until(() => closed === idleN + dripN, 10_000);
  t.ok(allClosed, `all ${idleN + dripN} closed at the deadline (closed: ${closed})`);
  t.ok(await until(() => d.daemon.internals.host.connectionCount === 1, 5000), 'only the legitimate session remains in the daemon');
  for (const s of sockets) s.destroy();
  t.ok(await until(() => fdCount() <= fd0 + 2, 5000), `fd count back near baseline (${fd0} → ${fdCount()}, the device's pair excluded)`);
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'connected', 'the legitimate session is untouched');
  const refused = await d.daemon.internals.metrics.value('iotsocket_handshakes_total', { result: 'refused', reason: 'timeout' });
  t.equal(refused, idleN + dripN, 'each counted as a handshake timeout');
  t.comment(`slow peers: ${idleN} idle + ${dripN} dripping 1 byte/s, all closed at exactly ${timeoutSec} s (manual clock), none before; legit device accepted; ${Date.now() - t0} ms real`);

  const again = await RawClient.open(d.port, dev.uid, dev.key);
  t.teardown(() => again.client.close());
  t.ok(again.accepted, 'and authenticates again after');
});
