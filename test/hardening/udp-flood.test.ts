import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT, encodeDatagram, type Transmission } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { settle } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { fdCount, memory, size, sleep, tick, until, watchCrashes } from '../helpers/stress.js';
import { UdpSender } from '../helpers/udp-sender.js';

const BURST = 500;
/** Datagrams sent but not yet counted by the daemon, at most: the kernel's receive buffer never overflows. */
const WINDOW = 2_000;
/** One valid telemetry datagram and one central → object round trip every this many bursts. */
const PROBE_EVERY = 2;
const MAX_DATAGRAM = 4096;
const ascii = (s: string) => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

/** The i-th flood datagram: an unknown token with a well-formed size, or a malformed size (short, length mismatch, too large). */
function floodDatagram(i: number, realToken: Buffer): { bytes: Buffer; reason: 'unknown-token' | 'bad-size' | 'too-large' } {
  const token = Buffer.alloc(8, 0xee);
  token.writeUInt32BE(i, 4);
  if (token.equals(realToken)) token[0] = 0xef;
  if (i % 1000 === 7) return { bytes: Buffer.alloc(MAX_DATAGRAM + 1, 0x41), reason: 'too-large' };
  if (i % 10 === 1) return { bytes: token.subarray(0, 5), reason: 'bad-size' };
  if (i % 10 === 2) {
    const b = encodeDatagram(token, ascii('abcdef'));
    return { bytes: b.subarray(0, b.length - 2), reason: 'bad-size' }; // the length field says 6, 4 follow
  }
  return { bytes: encodeDatagram(token, ascii(`x${i}`)), reason: 'unknown-token' };
}

t.test('UDP flood of unknown tokens and bad sizes: no reply, every drop counted, telemetry and requests still flow', async (t) => {
  const crashes = watchCrashes(t);
  const total = size(5_000, 100_000);
  const capMs = size(20_000, 120_000);
  const clock = new ManualClock();
  const dev = device('flood-dev');
  // The per-token rate limit counts in ManualClock seconds, which do not pass here: raised so the valid probes all pass.
  const d = await startDaemon(t, testConfig(t, { udp: { enabled: true, maxDatagramBytes: MAX_DATAGRAM, maxDatagramsPerSecPerToken: 100_000 } }), [dev], { clock, logLevel: 'warn' });
  const udpPort = d.daemon.addresses!.udp!.port;
  const metrics = d.daemon.internals.metrics;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  const token = (await obj.nextOf(ToT.TOKEN)).token;

  const telemetry = new Set<string>();
  const roundTrips = new Map<number, { sentAt: number; ms?: number; code?: number; data?: string }>();
  (central.received as Transmission[]).push = (...ts: Transmission[]) => {
    for (const x of ts) {
      if (x.type === ToT.TELEMETRY && x.uid === dev.uid) telemetry.add(x.payload.data.toString());
      else if (x.type === ToT.RESPONSE && x.uid === dev.uid) {
        const r = roundTrips.get(x.tracking);
        if (r) Object.assign(r, { ms: Date.now() - r.sentAt, code: x.code, data: x.payload.data.toString() });
      }
    }
    return 0;
  };
  (obj.received as Transmission[]).push = (...ts: Transmission[]) => {
    for (const x of ts) if (x.type === ToT.REQUEST) obj.send({ type: ToT.RESPONSE, tracking: x.tracking, code: ResponseCode.VALID, payload: x.payload });
    return 0;
  };

  const flood = await UdpSender.open(t);
  const good = await UdpSender.open(t);
  const fd0 = fdCount();
  const mem0 = memory();
  const dropped = () => metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped' });
  const expected: Record<string, number> = {};
  let sent = 0;
  let probes = 0;
  let stalled = false;
  const t0 = Date.now();
  for (let burst = 0; sent < total && Date.now() - t0 < capMs; burst++) {
    const sends: Array<Promise<void>> = [];
    for (let j = 0; j < BURST && sent < total; j++, sent++) {
      const { bytes, reason } = floodDatagram(sent, token);
      expected[reason] = (expected[reason] ?? 0) + 1;
      sends.push(flood.send(udpPort, bytes));
    }
    await Promise.all(sends);
    if (burst % PROBE_EVERY === 0) {
      const k = probes++;
      await good.send(udpPort, encodeDatagram(token, ascii(`t${k}`)));
      roundTrips.set(k, { sentAt: Date.now() });
      central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: k, payload: ascii(`r${k}`) });
    }
    // Flow control on the daemon's own count, bounded in time.
    const deadline = Date.now() + 10_000;
    while ((await dropped()) < sent - WINDOW) {
      if (Date.now() > deadline) { stalled = true; break; }
      await tick();
    }
    if (stalled) break;
  }
  const floodMs = Date.now() - t0;
  t.notOk(stalled, 'the daemon kept up with the flood (flow control never waited 10 s)');
  t.equal(sent, total, `${total} datagrams sent within ${capMs / 1000} s`);
  let counted = 0;
  for (let i = 0; i < 500 && (counted = await dropped()) < sent; i++) await sleep(10);
  const byReason: Record<string, number> = {};
  for (const reason of Object.keys(expected)) byReason[reason] = await metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason });
  t.same(byReason, expected, 'every datagram dropped and counted under its reason');
  t.equal(counted, sent, 'dropped count = datagrams sent');

  t.ok(await until(() => telemetry.size === probes && [...roundTrips.values()].every((r) => r.code !== undefined), 10_000), 'all probes arrived');
  t.equal(telemetry.size, probes, `valid telemetry during the flood: ${telemetry.size}/${probes} reached the central`);
  t.ok([...Array(probes).keys()].every((k) => telemetry.has(`t${k}`)), 'each with its own payload');
  const rts = [...roundTrips.values()];
  t.ok(rts.every((r, k) => r.code === ResponseCode.VALID && r.data === `r${k}`), `central → object round trips during the flood: ${rts.filter((r) => r.code === ResponseCode.VALID).length}/${probes} completed`);
  t.equal(await metrics.value('iotsocket_telemetry_datagrams_total', { result: 'accepted' }), probes, 'accepted count = valid datagrams');

  await settle(50);
  t.equal(flood.replies.length + good.replies.length, 0, '0 datagrams sent back to either sender');
  const replyBytes = [...flood.replies, ...good.replies].reduce((a, b) => a + b.length, 0);
  t.equal(d.daemon.internals.tracker.size, 0, 'nothing left tracked');
  t.equal(crashes.count, 0, 'no uncaught exception');
  const mem1 = memory();
  const heapGrowthKB = Math.round((mem1.heap - mem0.heap) / 1024);
  t.ok(mem1.heap - mem0.heap < 32 * 2 ** 20, `heap growth over the flood ${heapGrowthKB} KiB (after GC), under 32 MiB: nothing kept per datagram`);
  const rttMs = rts.map((r) => r.ms ?? NaN).sort((a, b) => a - b);
  t.comment(`udp flood: ${JSON.stringify({
    datagrams: sent, floodMs, perSec: Math.round(sent / (floodMs / 1000)), dropped: byReason, replyBytes,
    probes, telemetryDelivered: telemetry.size, roundTrips: rts.filter((r) => r.code === ResponseCode.VALID).length,
    rttMsMedian: rttMs[Math.floor(rttMs.length / 2)], rttMsMax: rttMs[rttMs.length - 1], heapGrowthKB, rssMb0: Math.round(mem0.rss / 2 ** 20), rssMb1: Math.round(mem1.rss / 2 ** 20), fd0, fd1: fdCount(),
  })}`);
});
