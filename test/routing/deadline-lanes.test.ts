import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { DeadlineLanes, type Timed } from '../../src/routing/deadline-lanes.js';

interface Item extends Timed { readonly id: string; deadline: number }

function setup() {
  const clock = new ManualClock();
  const due: string[] = [];
  const lanes: DeadlineLanes<Item> = new DeadlineLanes<Item>(clock, (item) => { due.push(`${item.id}@${clock.now()}`); lanes.settled(item); });
  const add = (id: string, ms: number): Item => {
    const item: Item = { id, deadline: clock.now() + ms, lane: undefined };
    lanes.add(item, ms);
    return item;
  };
  return { clock, lanes, due, add };
}

t.test('each item is due at its own deadline, in deadline order across lengths, as with a timer each', async (t) => {
  const { clock, lanes, due, add } = setup();
  add('a', 300);
  add('b', 100);
  clock.advance(50);
  add('c', 300); // due at 350
  add('d', 100); // due at 150
  add('e', 0); // due now, on the next firing
  t.equal(lanes.timers, 3, 'one timer per timeout length');
  clock.advance(1000);
  t.same(due, ['e@50', 'b@100', 'd@150', 'a@300', 'c@350']);
  t.equal(clock.pending, 0, 'nothing waiting: no timer');
});

t.test('a settled item is never due; a lane with nothing waiting goes when its timer fires', async (t) => {
  const { clock, lanes, due, add } = setup();
  const a = add('a', 100);
  clock.advance(10);
  const b = add('b', 100);
  lanes.settled(a);
  lanes.settled(a); // twice: no effect
  clock.advance(100);
  t.same(due, ['b@110'], 'a skipped; b at its own deadline, not a\'s');
  add('c', 100);
  lanes.settled(b); // already due: no effect
  const c2 = add('c2', 100);
  lanes.settled(c2);
  t.equal(clock.pending, 1);
  clock.advance(100);
  t.same(due, ['b@110', 'c@210']);
  const d = add('d', 100);
  lanes.settled(d);
  t.same([lanes.waiting, lanes.held, lanes.timers, clock.pending], [0, 0, 1, 1], 'the last waiting item settled: nothing held, the timer kept');
  clock.advance(100);
  t.same([lanes.timers, clock.pending], [0, 0], 'it fired on nothing: no lane, no timer');
  t.same(due, ['b@110', 'c@210'], 'nothing settled was due');
  lanes.release();
});

t.test('one item at a time: the lane and its timer serve item after item, none set per item', async (t) => {
  const { clock, lanes, due, add } = setup();
  let armed = 0;
  const setTimeout = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn, ms) => { armed++; return setTimeout(fn, ms); };
  for (let i = 0; i < 1_000; i++) {
    lanes.settled(add(`x${i}`, 100));
    if (i % 10 === 0) clock.advance(1);
  }
  t.ok(armed <= 2, `timers set: ${armed} for 1 000 items answered one by one within the timeout`);
  const last = add('last', 100);
  clock.advance(100);
  t.same(due, ['last@200'], 'a waiting item is due at its own deadline, after the timer fired early and was set again');
  t.equal(last.lane, undefined);
  clock.advance(100);
  t.same([lanes.timers, clock.pending], [0, 0]);
});

t.test('release() drops the lanes nothing waits in, with their timers (shutdown), and keeps the others', async (t) => {
  const { clock, lanes, due, add } = setup();
  lanes.settled(add('a', 100));
  add('b', 200);
  t.same([lanes.timers, clock.pending], [2, 2]);
  lanes.release();
  t.same([lanes.timers, clock.pending], [1, 1]);
  clock.advance(200);
  t.same(due, ['b@200']);
});

t.test('settled items do not pile up: many answered requests behind one that waits', async (t) => {
  const { clock, lanes, due, add } = setup();
  add('slow', 10_000);
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    lanes.settled(add(`x${i}`, 10_000));
    most = Math.max(most, lanes.held);
    if (i % 100 === 0) clock.advance(1);
  }
  t.ok(most <= 2 * 1 + 1026, `at most about 1 024 settled items held behind 1 waiting (most ${most})`);
  clock.advance(10_000);
  t.same(due, ['slow@10000']);
  t.same([lanes.held, clock.pending], [0, 0]);
});

t.test('a length whose lane went (its timer fired on nothing) gets a new lane and timer on its next item', async (t) => {
  const { clock, lanes, due, add } = setup();
  lanes.settled(add('a', 100));
  clock.advance(100); // the lane and its timer go
  t.same([lanes.timers, clock.pending], [0, 0]);
  add('b', 100);
  t.same([lanes.timers, clock.pending], [1, 1], 'the new item has a timer');
  add('c', 200); // another length in between
  lanes.settled(add('d', 100));
  clock.advance(300);
  t.same(due, ['b@200', 'c@300']);
});

t.test('items settled in the order they began are let go at once, not at the next compaction', async (t) => {
  const { clock, lanes, due, add } = setup();
  let prev = add('x0', 10_000);
  let most = 0;
  for (let i = 1; i < 5_000; i++) {
    const next = add(`x${i}`, 10_000);
    lanes.settled(prev);
    prev = next;
    most = Math.max(most, lanes.held);
  }
  t.equal(most, 1, 'only the waiting item is held');
  clock.advance(10_000);
  t.same(due, ['x4999@10000']);
  t.same([lanes.held, clock.pending], [0, 0]);
});
