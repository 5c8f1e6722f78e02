import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { ClientError, ClientErrorCode, binary } from '../../src/client/index.js';
import { RequestTracker } from '../../src/client/request-tracker.js';

t.test('numbers rotate, skip those in flight for the same key, and wrap at 16 bits', async (t) => {
  const clock = new ManualClock();
  const tr = new RequestTracker(clock);
  const a = tr.track('x', 1000);
  t.equal(a.tracking, 0);
  for (let i = 1; i < 0xffff; i++) void tr.track('y', 1000).promise.catch(() => {});
  // The counter is at 0xffff; 'x' still holds 0, so the next 'x' request after 0xffff skips it.
  const more = [tr.track('x', 1000), tr.track('x', 1000), tr.track('z', 1000)];
  for (const m of more) m.promise.catch(() => {});
  t.same(more.map((m) => m.tracking), [0xffff, 1, 2], 'skips 0 for x; z does not skip');
  tr.rejectAll(() => new ClientError(ClientErrorCode.CLOSED, 'x'));
  await t.rejects(a.promise, { code: ClientErrorCode.CLOSED });
  t.equal(tr.size, 0);
  t.equal(clock.pending, 0, 'timers cleared');
});

t.test('each request settles once: response, timeout, late response', async (t) => {
  const clock = new ManualClock();
  const tr = new RequestTracker(clock);
  const a = tr.track('', 100);
  const b = tr.track('', 200);
  t.equal(tr.settle('', a.tracking, 0, binary([1])), true);
  t.same((await a.promise).code, 0);
  t.equal(tr.settle('', a.tracking, 0, binary()), false, 'second response ignored');
  clock.advance(200);
  await t.rejects(b.promise, { code: ClientErrorCode.TIMEOUT, tracking: b.tracking });
  t.equal(tr.settle('', b.tracking, 0, binary()), false, 'late response ignored');
});

t.test('BUSY when all 65536 numbers are in flight for one key', async (t) => {
  const tr = new RequestTracker(new ManualClock());
  for (let i = 0; i < 0x10000; i++) void tr.track('k', 1).promise.catch(() => {});
  t.throws(() => tr.track('k', 1), { code: ClientErrorCode.BUSY });
  tr.rejectAll(() => new ClientError(ClientErrorCode.CLOSED, 'x'));
});
