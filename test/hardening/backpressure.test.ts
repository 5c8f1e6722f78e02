import t, { type Test } from 'tap';
import { Socket } from 'node:net';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, until } from '../helpers/stress.js';

const CAP = 256 * 1024;
const DRAIN_SEC = 5;
const REQUEST_SEC = 30;
const PAYLOAD = 60_000;

/** Largest writableLength seen on the daemon's side of connections to `port` (test-only wrapper of Socket#write). */
function watchWritable(t: Test, port: () => number): { max: number } {
  const seen = { max: 0 };
  const orig = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: any[]) {
    const r = (orig as any).apply(this, args);
    if (this.localPort === port()) seen.max = Math.max(seen.max, this.writableLength);
    return r;
  } as any;
  t.teardown(() => { Socket.prototype.write = orig; });
  return seen;
}

async function setup(t: Test) {
  const clock = new ManualClock();
  let port = 0;
  const seen = watchWritable(t, () => port);
  const dev = device('sink', 'Stations');
  const d = await startDaemon(t, testConfig(t, {
    keepSessionSec: 600,
    tcp: { requestTimeoutSec: REQUEST_SEC },
    limits: { writeBufferBytes: CAP, drainTimeoutSec: DRAIN_SEC },
    buffers: { maxBytesPerSession: 1 << 20 },
  }), [dev], { clock, logLevel: 'warn' });
  port = d.port;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  obj.socket.pause(); // never reads again
  let tracking = 0;
  // A Ping/Pong round trip: the daemon has processed all that the central sent. Other transmissions stay queued.
  const sync = async () => {
    central.send({ type: ToT.PING });
    await until(() => central.received.some((x) => x.type === ToT.PONG), 10_000);
    const i = central.received.findIndex((x) => x.type === ToT.PONG);
    if (i >= 0) central.received.splice(i, 1);
  };
  const push = (n: number) => {
    for (let i = 0; i < n; i++) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: tracking++, payload: { format: Format.BINARY, options: 0, data: Buffer.alloc(PAYLOAD, i) } });
  };
  const responses = new Map<number, number[]>();
  const collect = () => {
    for (const r of central.received.splice(0)) if (r.type === ToT.RESPONSE) responses.set(r.tracking, [...(responses.get(r.tracking) ?? []), r.code]);
  };
  return { clock, seen, dev, d, central, obj, sync, push, responses, collect, sent: () => tracking };
}

/** Room for fewer than two more requests: once past it, the next ones cannot all fit under the cap. */
const FULL = CAP - 2 * (PAYLOAD + 100);

/** Pushes until the daemon's socket to the non-reading device is full to the cap, then a few more (now held back). */
async function fillToCap(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
  while (s.seen.max <= FULL && s.sent() * PAYLOAD < 32 * 2 ** 20) {
    s.push(2);
    await s.sync();
  }
  s.push(4);
  await s.sync();
}

async function finish(t: Test, s: Awaited<ReturnType<typeof setup>>, label: string, extra: Record<string, unknown>) {
  const { clock, central, sync, responses, collect, sent, seen, d } = s;
  clock.advance(REQUEST_SEC * 1000);
  await sync();
  t.ok(await until(() => { collect(); return responses.size === sent(); }, 10_000), 'every request answered');
  await sync();
  collect();
  const codes: Record<string, number> = {};
  let dup = 0;
  for (let i = 0; i < sent(); i++) {
    const got = responses.get(i) ?? [];
    if (got.length !== 1) dup++;
    for (const c of got) codes[`0x${c.toString(16)}`] = (codes[`0x${c.toString(16)}`] ?? 0) + 1;
  }
  t.equal(dup, 0, 'exactly one answer per request (0 lost, 0 duplicated)');
  t.equal(d.daemon.internals.tracker.size, 0, 'nothing left tracked');
  t.comment(`${label}: ${JSON.stringify({ sentRequests: sent(), sentMB: +(sent() * PAYLOAD / 2 ** 20).toFixed(1), capKB: CAP / 1024, maxWritableKB: Math.round(seen.max / 1024), answers: codes, ...extra })}`);
  void central;
}

t.test('a device that never reads: writes stop at the cap, disconnect at the drain deadline, one answer per request', async (t) => {
  const s = await setup(t);
  const { clock, seen, dev, d, push, sync } = s;
  const target = size(2, 10) * 2 ** 20;
  // Phase 1: push until the daemon's socket buffer is full to the cap (it then stops writing).
  // Loopback kernel buffers absorb a few MB first, so this phase may go past the reduced target (bounded at 32 MB).
  await fillToCap(s);
  const blockedAfter = s.sent();
  t.ok(seen.max > FULL, `the daemon's socket buffer filled up to the cap after ${blockedAfter} requests`);
  t.ok(seen.max <= CAP, `writableLength never above the cap (max ${seen.max} of ${CAP})`);
  const state = () => d.daemon.internals.sessions.get(dev.uid)?.state;
  clock.advance(DRAIN_SEC * 1000 - 1);
  await sync();
  t.equal(state(), 'connected', 'still connected just before the drain deadline');
  clock.advance(1);
  t.ok(await until(() => state() === 'kept', 5000), 'disconnected at the drain deadline; the session is kept');
  // Phase 2: the rest of the push goes to the kept session's bounded buffer, the excess is answered 0xA0.
  while (s.sent() * PAYLOAD < target) {
    push(4);
    await sync();
  }
  const buffered = d.daemon.internals.sessions.get(dev.uid)?.buffer.bytes ?? 0;
  t.ok(buffered <= 1 << 20, `offline buffer bounded (${buffered} bytes)`);
  await finish(t, s, 'never-reading device', { blockedAfterRequests: blockedAfter, bufferedKB: Math.round(buffered / 1024) });
  t.ok(s.seen.max <= CAP, `writableLength stayed under the cap after phase 2 (max ${s.seen.max})`);
});

t.test('a burst past the cap while blocked disconnects at once (the in-memory queue is bounded too)', async (t) => {
  const s = await setup(t);
  const { dev, d, push, sync } = s;
  await fillToCap(s);
  push(Math.ceil((CAP * 1.5) / PAYLOAD));
  await sync();
  t.ok(await until(() => d.daemon.internals.sessions.get(dev.uid)?.state === 'kept', 5000), 'disconnected without waiting for the deadline; session kept');
  await finish(t, s, 'burst while blocked', {});
});

t.test('a transmission larger than the cap still reaches a device that reads (no deadlock)', async (t) => {
  const dev = device('reader', 'Stations');
  const d = await startDaemon(t, testConfig(t, { limits: { writeBufferBytes: 16 * 1024 } }), [dev], { logLevel: 'warn' });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => { central.close(); obj.close(); });
  for (let i = 0; i < 3; i++) central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: i, payload: { format: Format.BINARY, options: 0, data: Buffer.alloc(PAYLOAD, i) } });
  t.ok(await until(() => obj.received.filter((x) => x.type === ToT.REQUEST).length === 3, 5000), 'three 60 KB requests delivered through a 16 KB cap');
  const got = obj.received.filter((x) => x.type === ToT.REQUEST).map((x) => (x.type === ToT.REQUEST ? x.payload.data[0] : -1));
  t.same(got, [0, 1, 2], 'in order');
  t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'connected', 'still connected');
});
