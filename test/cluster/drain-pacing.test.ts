import t from 'tap';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.js';
import { Drain, type DrainDeps } from '../../src/cluster/drain.js';
import { MemorySessionStore, type Session } from '../../src/registry/session.js';

/** A drain over `n` fake connected sessions on a manual clock: what it hands off and announces, step by step. */
function setup(n: number, rate: number, settleMs = 1000) {
  const clock = new ManualClock();
  const store = new MemorySessionStore();
  for (let i = 0; i < n; i++) store.set({ uid: `u${i}` } as Session);
  const handedOff: string[] = [];
  const notices: string[] = [];
  const announced: boolean[] = [];
  let inFlight = 0;
  const deps: DrainDeps = {
    clock, log: pino({ level: 'silent' }),
    sessions: { store, handOff: (s) => { handedOff.push(s.uid); return store.delete(s.uid); } },
    inFlight: () => inFlight,
    handedOff: (uid) => void notices.push(uid),
    settleMs,
    announce: async (d) => void announced.push(d),
    counters: { started: () => {}, moved: () => {} },
  };
  const drain = new Drain(deps, rate);
  return { clock, store, drain, handedOff, notices, announced, setInFlight: (k: number) => { inFlight = k; } };
}

t.test('sessions are handed off at the rate, in 100 ms steps, never in one burst', async (t) => {
  const d = setup(50, 20);
  await d.drain.start();
  t.same(d.announced, [true], 'the flag is announced at the start');
  t.equal(d.handedOff.length, 0, 'nothing at once');
  d.clock.advance(100);
  t.equal(d.handedOff.length, 2, '20/s: 2 per 100 ms');
  d.clock.advance(900);
  t.equal(d.handedOff.length, 20, '20 after a second');
  const r = await d.drain.start(100); // asked again: only the rate changes
  t.equal(r.rate, 100);
  d.clock.advance(100);
  t.equal(d.handedOff.length, 30);
  d.clock.advance(300);
  t.equal(d.handedOff.length, 50);
  t.equal(d.store.size, 0);
});

t.test('a rate below one per step still hands off (credit accrues), and a stalled loop does not burst', async (t) => {
  const d = setup(10, 2);
  await d.drain.start();
  d.clock.advance(400);
  t.equal(d.handedOff.length, 0);
  d.clock.advance(100);
  t.equal(d.handedOff.length, 1, 'one after half a second at 2/s');
  d.clock.advance(500);
  t.equal(d.handedOff.length, 2);
});

t.test('done only with no session, nothing in flight, and every handoff announced twice and settled', async (t) => {
  const d = setup(3, 1000, 1000);
  await d.drain.start();
  d.clock.advance(100);
  t.same(d.handedOff, ['u0', 'u1', 'u2']);
  t.same(d.notices, ['u0', 'u1', 'u2'], 'first notices at the handoff');
  t.match(d.drain.status(), { draining: true, sessionsLeft: 0, moved: 3, done: false });
  d.clock.advance(900);
  t.equal(d.notices.length, 3, 'not before the settle time');
  d.clock.advance(100);
  t.same(d.notices, ['u0', 'u1', 'u2', 'u0', 'u1', 'u2'], 'second notices a settle time after the handoff');
  t.equal(d.drain.status().done, false, 'the second notices must settle too');
  d.setInFlight(1);
  d.clock.advance(1000);
  t.match(d.drain.status(), { inFlight: 1, done: false }, 'a request still tracked here');
  d.setInFlight(0);
  t.match(d.drain.status(), { inFlight: 0, done: true });
  const c = await d.drain.cancel();
  t.match(c, { draining: false, done: false });
  t.same(d.announced, [true, false]);
});
