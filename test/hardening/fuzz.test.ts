import t from 'tap';
import fc from 'fast-check';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import {
  ToT, TransmissionParser, encodeAuthAnswer, encodeInitiation, encodeTransmission, type Transmission,
} from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { testCerts } from '../helpers/certs.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { fdCount, pool, rssMb, size, until, watchCrashes } from '../helpers/stress.js';

const uidArb = fc.string({ unit: 'grapheme-ascii', minLength: 0, maxLength: 16 });
const payloadArb = fc.record({
  format: fc.constantFrom(0, 1, 2, 0xa),
  options: fc.integer({ min: 0, max: 15 }),
  data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
});
const transmissionArb: fc.Arbitrary<Transmission> = fc.oneof(
  fc.constant({ type: ToT.PING } as Transmission),
  fc.constant({ type: ToT.PONG } as Transmission),
  fc.record({ type: fc.constant(ToT.CLOSE), code: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ type: fc.constant(ToT.REQUEST), uid: fc.option(uidArb, { nil: undefined }), tracking: fc.integer({ min: 0, max: 0xffff }), payload: payloadArb }),
  fc.record({ type: fc.constant(ToT.RESPONSE), uid: fc.option(uidArb, { nil: undefined }), tracking: fc.integer({ min: 0, max: 0xffff }), code: fc.integer({ min: 0, max: 255 }), payload: payloadArb }),
  fc.record({ type: fc.constant(ToT.TOKEN), token: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a)) }),
  fc.record({ type: fc.constant(ToT.TELEMETRY), uid: uidArb, payload: payloadArb }),
  fc.record({ type: fc.constant(ToT.ACL), entries: fc.array(fc.record({ group: uidArb, uid: uidArb, key: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)) }), { maxLength: 3 }) }),
) as fc.Arbitrary<Transmission>;

type Mutation = { kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate'; at: number; value: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

function mutate(buf: Buffer, muts: readonly Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of muts) {
    if (b.length === 0) break;
    const i = m.at % b.length;
    if (m.kind === 'flip') b[i] = b[i]! ^ (1 << (m.value & 7));
    else if (m.kind === 'set') b[i] = m.value;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([m.value]), b.subarray(i)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    else b = b.subarray(0, i);
  }
  return b;
}

/** Feeds `bytes` split at `cuts`; the parser must return, never throw. */
function feed(bytes: Buffer, cuts: readonly number[], maxBytes: number): void {
  const parser = new TransmissionParser(maxBytes);
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p <= from) continue;
    if (parser.push(bytes.subarray(from, p), () => {})) return; // an error is a value: stop like the connection does
    from = p;
  }
}

t.test('transmission parser: random and mutated streams never throw, memory stays bounded', async (t) => {
  const total = size(20_000, 1_000_000);
  const half = total / 2;
  global.gc?.();
  const rss0 = rssMb();
  const t0 = Date.now();
  let maxRss = rss0;
  let n = 0;
  const sample = () => { if (++n % 5000 === 0) maxRss = Math.max(maxRss, rssMb()); };
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 256 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(8, 64, 1 << 20),
    (bytes, cuts, max) => { feed(Buffer.from(bytes), cuts, max); sample(); },
  ), { numRuns: half });
  fc.assert(fc.property(
    fc.array(transmissionArb, { minLength: 1, maxLength: 6 }), fc.array(mutationArb, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(32, 1 << 20),
    (ts, muts, cuts, max) => { feed(mutate(Buffer.concat(ts.map(encodeTransmission)), muts), cuts, max); sample(); },
  ), { numRuns: half });
  global.gc?.();
  const rss1 = rssMb();
  t.comment(`parser fuzz: ${total} inputs (${half} random, ${half} mutated valid streams, random splits) in ${Date.now() - t0} ms; 0 throws; RSS ${rss0} MB → peak ${Math.max(maxRss, rss1)} MB → end ${rss1} MB`);
  t.ok(rss1 - rss0 < 200, `RSS growth ${rss1 - rss0} MB under 200 MB`);
});

t.test('handshake over real sockets: random and mutated byte streams; the daemon survives', async (t) => {
  const crashes = watchCrashes(t);
  const clock = new ManualClock();
  const dev = device('fuzz-ok');
  const { cert, key } = await testCerts();
  const base = testConfig(t, { limits: { authFailuresPerMinute: 1e9, acceptPerSec: 1e9 }, tcp: { maxConnections: 100_000 } });
  writeFileSync(join(base.baseDir, 's.crt'), cert);
  writeFileSync(join(base.baseDir, 's.key'), key);
  const config = { ...base, tcp: { ...base.tcp, tls: { cert: join(base.baseDir, 's.crt'), key: join(base.baseDir, 's.key') } } };
  const d = await startDaemon(t, config, [dev], { clock, logLevel: 'warn' });
  const fd0 = fdCount();
  const n = size(200, 10_000);

  // Inputs: pure noise, and mutations of a plausible opening (initiation, plain or TLS, then an auth answer).
  const valid = (tls: boolean) => Buffer.concat([encodeInitiation({ tls, version: 1, options: 0, maxTransmissionLength: 0 }), encodeAuthAnswer(dev.uid, Buffer.alloc(32, 0x42))]);
  const inputs = fc.sample(fc.oneof(
    fc.uint8Array({ maxLength: 128 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.boolean(), fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([tls, m]) => mutate(valid(tls), m)),
    fc.tuple(fc.boolean(), fc.nat({ max: 60 })).map(([tls, cut]) => valid(tls).subarray(0, cut)),
  ), { numRuns: n, seed: 42 });

  const t0 = Date.now();
  let closedByDaemon = 0;
  let held = 0;
  let heldOpen = 0;
  // Even inputs end their side after writing; odd ones keep the socket open (only the deadline ends them).
  await pool(inputs, 50, async (bytes, i) => {
    const s = connect({ port: d.port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.resume();
    if (i % 2 === 1) {
      held++;
      heldOpen++;
      s.once('close', () => heldOpen--);
      s.once('connect', () => s.write(bytes));
      return;
    }
    await new Promise<void>((resolve) => {
      s.once('connect', () => { s.end(bytes); });
      const timer = setTimeout(() => { s.destroy(); resolve(); }, 1000);
      s.once('close', () => { closedByDaemon++; clearTimeout(timer); resolve(); });
    });
  });
  const heldBeforeDeadline = heldOpen;
  // What is still in the handshake is ended by its deadline (a few rounds: the last accepts may still be queued).
  for (let round = 0; round < 50 && heldOpen > 0; round++) {
    clock.advance(config.tcp.handshakeTimeoutSec * 1000);
    await until(() => heldOpen === 0, 20);
  }
  const settled = await until(() => fdCount() <= fd0 && d.daemon.internals.host.connectionCount === 0, 5000);
  const stats = {
    inputs: n, endedByClient: n - held, closedByDaemonAfterEnd: closedByDaemon, keptOpen: held, stillOpenBeforeDeadline: heldBeforeDeadline,
    ms: Date.now() - t0, fd0, fd1: fdCount(), uncaught: crashes.count, open: d.daemon.internals.host.connectionCount,
  };
  t.equal(heldOpen, 0, 'every socket kept open by its client was closed by the deadline');
  t.comment(`handshake fuzz: ${JSON.stringify(stats)}`);
  t.ok(settled, 'fd count back to baseline, no socket left in the daemon');
  t.equal(crashes.count, 0, 'no uncaught exception or unhandled rejection');
  t.equal(d.daemon.internals.sessions.store.size, 0, 'no session created by noise');
  const ok = await RawClient.open(d.port, dev.uid, dev.key);
  t.teardown(() => ok.client.close());
  t.ok(ok.accepted, 'a legitimate device still authenticates');
});
