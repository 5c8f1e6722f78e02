import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { CENTRAL_UID, Format, ResponseCode, ToT, type Payload } from '../../src/protocol/index.js';
import { Acl } from '../../src/registry/acl.js';
import { SessionManager } from '../../src/registry/session-manager.js';
import { RequestTracker, type ResponseTarget } from '../../src/routing/request-tracker.js';
import { Router, type RefusalReason } from '../../src/routing/router.js';
import { MemoryLink } from '../helpers/memory-link.js';

// The routing policy alone (PROTOCOL §5): a real SessionManager and RequestTracker on a
// ManualClock, links that record what they are sent. The daemon-level tests cover the sockets.

const payload = (s: string): Payload => ({ format: Format.UTF8, options: 0, data: Buffer.from(s) });
const acl = Acl.from([{ uid: 'obj-1', group: 'G', key: Buffer.alloc(16, 1) }, { uid: 'obj-2', group: 'G', key: Buffer.alloc(16, 2) }], new Set(['G'])) as Acl;

function setup(opts: { maxInFlightPerObject?: number; maxInFlightPerTarget?: number; keepSessionMs?: number } = {}) {
  const clock = new ManualClock();
  const sessions = new SessionManager(clock, { keepSessionMs: opts.keepSessionMs ?? 60_000, buffers: { maxPerSession: 10, maxBytesPerSession: 1 << 16, maxTotalBytes: 1 << 20 } }, {
    started() {}, resumed() {}, takenOver() {}, kept() {}, ended() {}, dropped() {},
  });
  const tracker = new RequestTracker(clock, { settled() {} });
  const refused: RefusalReason[] = [];
  const late: string[] = [];
  const telemetryDropped: string[] = [];
  const router = new Router(sessions, tracker, {
    requestTimeoutMs: 10_000, maxInFlightPerObject: opts.maxInFlightPerObject ?? 32, maxInFlightPerTarget: opts.maxInFlightPerTarget ?? 256, acl: () => acl,
  }, {
    lateResponse: (dir, uid, tracking) => late.push(`${dir}:${uid}:${tracking}`),
    refused: (r) => refused.push(r),
    telemetryDropped: (r) => telemetryDropped.push(r),
  });
  const connect = (uid: string, link = new MemoryLink()) => {
    sessions.attach(uid, uid === CENTRAL_UID ? 'central' : 'object', 'G', link);
    return link;
  };
  return { clock, sessions, tracker, router, refused, late, telemetryDropped, connect };
}

/** A ResponseTarget that records the one answer it gets (the HTTP API's shape). */
function origin() {
  const got: Array<{ uid: string; tracking: number; code: number; data: string; reason?: string }> = [];
  const target: ResponseTarget = { deliverResponse: (uid, tracking, code, p, reason) => got.push({ uid, tracking, code, data: p.data.toString(), reason }) };
  return { got, target };
}

t.test('an object\'s request reaches the central with the UID (RTE); the central\'s response goes back with the same tracking', async (t) => {
  const { router, connect, tracker } = setup();
  const central = connect(CENTRAL_UID);
  const obj = connect('obj-1');
  router.objectRequest('obj-1', 7, payload('up?'));
  t.match(central.of(ToT.REQUEST), [{ uid: 'obj-1', tracking: 7 }]);
  router.centralResponse('obj-1', 7, ResponseCode.VALID, payload('yes'));
  t.match(obj.of(ToT.RESPONSE), [{ tracking: 7, code: 0 }]);
  t.equal(obj.of(ToT.RESPONSE)[0]!.payload.data.toString(), 'yes');
  t.equal(tracker.size, 0, 'settled');
});

t.test('a tracking number in flight gets 0xA2 and leaves the first request alone', async (t) => {
  const { router, connect, refused, tracker } = setup();
  const central = connect(CENTRAL_UID);
  const obj = connect('obj-1');
  router.objectRequest('obj-1', 3, payload('a'));
  router.objectRequest('obj-1', 3, payload('b'));
  t.match(obj.of(ToT.RESPONSE), [{ tracking: 3, code: ResponseCode.IN_PROGRESS }]);
  t.same(refused, ['in-progress']);
  t.equal(central.of(ToT.REQUEST).length, 1, 'only the first was forwarded');
  t.ok(tracker.has('up', 'obj-1', 3), 'the first is still tracked');
  // The other direction is another space: the central may use 3 towards the same object.
  router.centralRequest('obj-1', 3, payload('down'));
  t.match(obj.of(ToT.REQUEST), [{ tracking: 3 }]);
});

t.test('no central and no webhook: 0xA0 (no-central); not in the ACL, or no session: 0xA0 with the reason', async (t) => {
  const { router, connect, refused } = setup();
  const obj = connect('obj-1');
  router.objectRequest('obj-1', 1, payload('x'));
  t.match(obj.of(ToT.RESPONSE), [{ tracking: 1, code: ResponseCode.NOT_FOUND }]);
  const o = origin();
  router.centralRequest('stranger', 5, payload('x'), o.target);
  router.centralRequest('obj-2', 6, payload('x'), o.target);
  t.same(o.got.map((g) => [g.uid, g.tracking, g.code, g.reason]), [['stranger', 5, 0xa0, 'not-in-acl'], ['obj-2', 6, 0xa0, 'no-session']]);
  t.same(refused, ['no-central', 'not-in-acl', 'no-session']);
});

t.test('no answer within the timeout: 0xA1 once; the late response is dropped and counted', async (t) => {
  const { router, connect, clock, late } = setup();
  const obj = connect('obj-1');
  const o = origin();
  router.centralRequest('obj-1', 9, payload('x'), o.target, 5_000);
  clock.advance(4_999);
  t.same(o.got, [], 'not before the timeout');
  clock.advance(1);
  t.same(o.got.map((g) => [g.code, g.reason]), [[ResponseCode.TIMEOUT, 'timeout']]);
  router.objectResponse('obj-1', 9, 0, payload('late'));
  t.equal(o.got.length, 1, 'exactly one answer');
  t.same(late, ['down:obj-1:9']);
  t.equal(obj.of(ToT.REQUEST).length, 1);
});

t.test('in-flight limits answer 0x01 and count, per object and per target', async (t) => {
  const { router, connect, refused } = setup({ maxInFlightPerObject: 2, maxInFlightPerTarget: 1 });
  connect(CENTRAL_UID);
  const obj = connect('obj-1');
  for (const k of [1, 2, 3]) router.objectRequest('obj-1', k, payload('x'));
  t.match(obj.of(ToT.RESPONSE), [{ tracking: 3, code: ResponseCode.NOT_VALID }]);
  const o = origin();
  router.centralRequest('obj-1', 10, payload('x'), o.target);
  router.centralRequest('obj-1', 11, payload('x'), o.target);
  t.same(o.got.map((g) => [g.tracking, g.code, g.reason]), [[11, ResponseCode.NOT_VALID, 'target-in-flight-limit']]);
  t.same(refused, ['object-in-flight-limit', 'target-in-flight-limit']);
});

t.test('tracking -1 (HTTP) picks a number free in the space the TCP central shares', async (t) => {
  const { router, connect } = setup();
  const obj = connect('obj-1');
  router.centralRequest('obj-1', 42, payload('tcp'));
  const o = origin();
  const picked = router.centralRequest('obj-1', -1, payload('http'), o.target);
  t.ok(picked >= 0 && picked <= 0xffff && picked !== 42, `picked ${picked}`);
  router.objectResponse('obj-1', picked, 0, payload('for http'));
  t.same(o.got.map((g) => [g.tracking, g.data]), [[picked, 'for http']], 'the answer goes to the HTTP caller');
  t.same(obj.of(ToT.REQUEST).map((r) => r.tracking), [42, picked]);
});

t.test('a kept object: requests are buffered, replayed on resume in order, and answered through the tracker', async (t) => {
  const { router, connect, sessions } = setup();
  const first = connect('obj-1');
  sessions.detach(sessions.get('obj-1')!, first, true, 'socket-end');
  const o = origin();
  router.centralRequest('obj-1', 1, payload('one'), o.target);
  router.centralRequest('obj-1', 2, payload('two'), o.target);
  t.same(o.got, [], 'buffered, not answered');
  const again = connect('obj-1');
  t.same(again.of(ToT.REQUEST).map((r) => [r.tracking, r.payload.data.toString()]), [[1, 'one'], [2, 'two']]);
  router.objectResponse('obj-1', 2, 0, payload('r2'));
  router.objectResponse('obj-1', 1, 0, payload('r1'));
  t.same(o.got.map((g) => [g.tracking, g.data]), [[2, 'r2'], [1, 'r1']]);
});

t.test('telemetry: to the connected central, else dropped (no-central)', async (t) => {
  const { router, connect, telemetryDropped } = setup();
  t.equal(router.telemetry('obj-1', payload('t0')), 'dropped');
  t.same(telemetryDropped, ['no-central']);
  const central = connect(CENTRAL_UID);
  t.equal(router.telemetry('obj-1', payload('t1')), 'central');
  t.match(central.of(ToT.TELEMETRY), [{ uid: 'obj-1' }]);
});
