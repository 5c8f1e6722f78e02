import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, type Payload } from '../../src/protocol/index.js';
import { RequestTracker, allocateTracking, type ResponseTarget } from '../../src/routing/request-tracker.js';

const payload: Payload = { format: Format.UTF8, options: 0, data: Buffer.from('ok') };

function setup() {
  const clock = new ManualClock();
  const settled: Array<{ code: number; generated: boolean }> = [];
  const tracker = new RequestTracker(clock, { settled: (_p, code, generated) => settled.push({ code, generated }) });
  const answers: Array<[number, number, string | undefined]> = [];
  const origin: ResponseTarget = { deliverResponse: (_uid, tracking, code, _p, reason) => answers.push([tracking, code, reason]) };
  return { clock, tracker, settled, answers, origin };
}

t.test('a request settles exactly once: by its response, never again by a timeout or a fail', async (t) => {
  const { tracker, clock, answers, origin, settled } = setup();
  const p = tracker.begin('down', 'u', 5, origin, 1000)!;
  t.equal(tracker.size, 1);
  t.equal(tracker.complete('down', 'u', 5, 0, payload), true);
  t.equal(tracker.complete('down', 'u', 5, 0, payload), false, 'a second response is late');
  tracker.fail(p, ResponseCode.NOT_FOUND, 'session-ended');
  clock.advance(5000);
  t.same(answers, [[5, 0, undefined]]);
  t.same(settled, [{ code: 0, generated: false }]);
  t.same([tracker.size, clock.pending], [0, 0], 'no entry and no timer left');
});

t.test('a tracking number in flight cannot begin again; directions and UIDs are separate spaces', async (t) => {
  const { tracker, origin } = setup();
  t.ok(tracker.begin('down', 'u', 1, origin, 1000));
  t.equal(tracker.begin('down', 'u', 1, origin, 1000), undefined);
  t.ok(tracker.begin('up', 'u', 1, origin, 1000), 'the other direction');
  t.ok(tracker.begin('down', 'v', 1, origin, 1000), 'another UID');
  t.same([tracker.inFlight('down', 'u'), tracker.inFlight('up', 'u'), tracker.size], [1, 1, 3]);
});

t.test('the timeout answers 0xA1 (generated, reason timeout) and frees the number', async (t) => {
  const { tracker, clock, answers, origin, settled } = setup();
  tracker.begin('up', 'u', 9, origin, 2000);
  clock.advance(1999);
  t.same(answers, []);
  clock.advance(1);
  t.same(answers, [[9, ResponseCode.TIMEOUT, 'timeout']]);
  t.same(settled, [{ code: ResponseCode.TIMEOUT, generated: true }]);
  t.ok(tracker.begin('up', 'u', 9, origin, 2000), 'free again');
});

t.test('failAll answers every pending request once (shutdown)', async (t) => {
  const { tracker, answers, origin, clock } = setup();
  for (let k = 0; k < 5; k++) tracker.begin('down', `u${k % 2}`, k, origin, 1000);
  tracker.failAll(ResponseCode.NOT_FOUND, 'shutdown');
  t.same(answers.map((a) => a[0]).sort(), [0, 1, 2, 3, 4]);
  t.ok(answers.every((a) => a[1] === ResponseCode.NOT_FOUND && a[2] === 'shutdown'));
  t.same([tracker.size, clock.pending], [0, 0]);
});

t.test('allocateTracking finds a free number, and -1 once all 65 536 are in flight', async (t) => {
  const { tracker, origin } = setup();
  for (let k = 0; k < 0x10000; k++) if (k !== 777) tracker.begin('down', 'u', k, origin, 1000);
  t.equal(allocateTracking(tracker, 'down', 'u'), 777, 'the only free one');
  tracker.begin('down', 'u', 777, origin, 1000);
  t.equal(allocateTracking(tracker, 'down', 'u'), -1);
  t.ok(allocateTracking(tracker, 'up', 'u') >= 0, 'the other direction is its own space');
});

t.test('read times given by the caller: the request starts and its timeout counts from its read, its response settles at its own', async (t) => {
  const clock = new ManualClock();
  const times: Array<[number, number]> = [];
  const tracker = new RequestTracker(clock, { settled: (p, _code, _generated, now) => times.push([p.startedAt, now]) });
  const origin: ResponseTarget = { deliverResponse: () => {} };
  clock.advance(100);
  const p = tracker.beginWithin(8, 'down', 'u', 1, origin, 1000, 40);
  t.ok(typeof p === 'object');
  t.equal((p as { deadline: number }).deadline, 1040, 'the deadline counts from the read');
  tracker.begin('down', 'u', 2, origin, 1000); // no read time: the clock's now
  tracker.complete('down', 'u', 1, 0, payload, 120);
  clock.advance(100);
  tracker.complete('down', 'u', 2, 0, payload);
  t.same(times, [[40, 120], [100, 200]]);
  t.equal(tracker.beginWithin(1, 'down', 'v', 1, origin, 1000, 200) instanceof Object, true);
  t.equal(tracker.beginWithin(1, 'down', 'v', 2, origin, 1000, 200), 'limit', 'the in-flight limit comes first');
  t.equal(tracker.beginWithin(2, 'down', 'v', 1, origin, 1000, 200), 'in-progress');
});

t.test('a read time older than a request begun since gives way to the clock: starts, and so deadlines, never go back', async (t) => {
  const clock = new ManualClock();
  const tracker = new RequestTracker(clock, { settled: () => {} });
  const origin: ResponseTarget = { deliverResponse: () => {} };
  clock.advance(100);
  tracker.begin('down', 'u', 1, origin, 1000); // the clock: 100
  const p = tracker.beginWithin(8, 'down', 'u', 2, origin, 1000, 60);
  t.equal((p as { startedAt: number }).startedAt, 100);
  const q = tracker.beginWithin(8, 'down', 'u', 3, origin, 1000, 100);
  t.equal((q as { startedAt: number }).startedAt, 100, 'the same time is not older');
});

t.test('an object answering one request at a time keeps its table; empty tables go once they outnumber 1 024 and those in use', async (t) => {
  const { tracker, origin, answers } = setup();
  for (let i = 0; i < 1_000; i++) {
    tracker.begin('down', 'one', i & 0xffff, origin, 1000);
    tracker.complete('down', 'one', i & 0xffff, 0, payload);
  }
  t.same([tracker.size, tracker.tables('down'), answers.length], [0, 1, 1_000], 'one table, listed throughout');
  for (let k = 0; k < 3; k++) tracker.begin('down', `busy${k}`, 1, origin, 1000);
  let most = 0;
  for (let i = 0; i < 5_000; i++) {
    tracker.begin('down', `o${i}`, 1, origin, 1000);
    tracker.complete('down', `o${i}`, 1, 0, payload);
    most = Math.max(most, tracker.tables('down'));
  }
  t.ok(most <= 1_025 + 3 + 1, `at most about 1 024 empty tables held (most ${most})`);
  t.same([tracker.size, tracker.inFlight('down', 'busy1'), tracker.has('down', 'busy2', 1)], [3, 1, true], 'the tables in use stay');
  tracker.begin('down', 'o4999', 2, origin, 1000);
  t.equal(tracker.inFlight('down', 'o4999'), 1, 'an object whose table was swept starts a new one');
  t.equal(tracker.tables('up'), 0, 'the other direction untouched');
});

t.test('failAll leaves no timer: the timeout lanes go with their requests (shutdown)', async (t) => {
  const { tracker, origin, clock } = setup();
  tracker.begin('down', 'u', 1, origin, 1000);
  tracker.complete('down', 'u', 1, 0, payload);
  tracker.begin('up', 'u', 2, origin, 500);
  tracker.failAll(ResponseCode.NOT_FOUND, 'shutdown');
  t.same([tracker.size, clock.pending], [0, 0]);
});
