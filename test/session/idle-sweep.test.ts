import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { IdleSweep, type IdleWatched } from '../../src/session/idle-sweep.js';

/** A watched connection that records the times it was checked. */
function watched(): IdleWatched & { checks: number[] } {
  const checks: number[] = [];
  return { checks, idleCheck(now: number) { checks.push(now); } };
}

const PERIOD = 16_000; // slots of 1 000 ms

t.test('each connection is checked once per period, from the first slot boundary at or after it was added', async (t) => {
  const clock = new ManualClock();
  const sweep = new IdleSweep(clock, PERIOD);
  const a = watched();
  sweep.add(a); // at 0: a boundary
  clock.advance(2_500);
  const b = watched();
  sweep.add(b); // at 2 500: its boundary is 3 000
  clock.advance(3 * PERIOD);
  t.same(a.checks, [0, 16_000, 32_000, 48_000], 'a: at 0 and every period after');
  t.same(b.checks, [3_000, 19_000, 35_000], 'b: its own phase, a period apart');
  t.ok(b.checks[1]! - 2_500 >= PERIOD, 'a period of silence since it was added is reached at its second check');
});

t.test('the timer runs only while something is watched; a connection deleted is no longer checked', async (t) => {
  const clock = new ManualClock();
  const sweep = new IdleSweep(clock, PERIOD);
  t.equal(clock.pending, 0, 'no timer while empty');
  const a = watched();
  sweep.add(a);
  sweep.add(a);
  t.equal(sweep.size, 1, 'added once');
  t.equal(clock.pending, 1, 'one timer for the sweep');
  clock.advance(PERIOD);
  sweep.delete(a);
  t.same([sweep.size, clock.pending], [0, 0], 'deleted: no timer left');
  clock.advance(3 * PERIOD);
  t.same(a.checks, [0, 16_000], 'not checked once deleted');
  sweep.add(a); // at 64 000, a boundary again
  clock.advance(PERIOD);
  t.same(a.checks.slice(2), [64_000, 80_000], 'added again: checked again, on the same slot grid');
});

t.test('a late timer checks each bucket once at most: a long-blocked loop does not ping and drop in one turn', async (t) => {
  const clock = new ManualClock();
  const sweep = new IdleSweep(clock, PERIOD);
  const a = watched();
  sweep.add(a);
  clock.advance(0);
  t.same(a.checks, [0]);
  // A clock that jumps: the sweep's next timer fires once, 2.5 periods late.
  const jump = new ManualClock();
  const late = new IdleSweep(jump, PERIOD);
  const b = watched();
  late.add(b);
  jump.advance(0);
  (jump as unknown as { now(): number }).now = () => 2.5 * PERIOD + 1_000;
  jump.advance(1_000); // fires the pending timer, whose callback reads the jumped time
  t.same(b.checks, [0, 41_000], 'one check for the whole gap, not one per period passed');
  t.end();
});

t.test('a period must be positive', async (t) => {
  t.throws(() => new IdleSweep(new ManualClock(), 0), RangeError);
});
