import t from 'tap';
import { once } from 'node:events';
import { ManualClock } from '../../src/clock.js';
import { ObjectClient, type CloseEvent } from '../../src/client/index.js';
import { TakeoverBackoff } from '../../src/client/takeover-backoff.js';
import { CloseCode } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';

t.test('TakeoverBackoff: doubles per takeover in a row, jittered in [ceiling/2, ceiling], capped; a stable session resets it', async (t) => {
  const clock = new ManualClock();
  let r = 0;
  const b = new TakeoverBackoff({ firstMs: 1000, maxMs: 8000, stableMs: 8000, now: () => clock.now(), random: () => r });
  const lows: number[] = [];
  for (let i = 0; i < 6; i++) {
    b.opened();
    clock.advance(100); // each session lasts far less than stableMs
    lows.push(b.takenOver());
  }
  t.same(lows, [500, 1000, 2000, 4000, 4000, 4000], 'random 0: half the ceiling, which doubles up to maxMs');
  r = 0.999_999;
  b.opened();
  t.equal(b.takenOver(), 8000, 'random near 1: the ceiling itself');
  t.equal(b.streak, 7);
  b.opened();
  clock.advance(8000);
  r = 0.5;
  t.equal(b.takenOver(), 750, 'a session that lasted stableMs: the streak starts again (ceiling 1000, jitter 0.5)');
  t.equal(b.streak, 1);
  t.equal(b.takenOver(), 1500, 'taken over again without a session in between: the streak goes on');
});

t.test('two SDK clients with one UID against the daemon: each takeover makes the loser wait longer, not ~100 ms', async (t) => {
  const dev = device('twin-1');
  const d = await startDaemon(t, testConfig(t), [dev]);
  // One manual clock per client: each one's backoff timer fires only when the test says so.
  const make = () => {
    const clock = new ManualClock();
    const c = new ObjectClient({ host: '127.0.0.1', port: d.port, uid: dev.uid, key: dev.key, clock, reconnect: { minMs: 100, maxMs: 30_000, random: () => 0 } });
    t.teardown(() => c.destroy());
    return { c, clock };
  };
  const a = make();
  const b = make();
  await a.c.connect();
  const delays: number[] = [];
  let [winner, loser] = [b, a];
  for (let round = 0; round < 6; round++) {
    const closed = once(loser.c, 'close') as Promise<[CloseEvent]>;
    const rec = once(loser.c, 'reconnect') as Promise<[{ delayMs: number; takenOver?: boolean }]>;
    if (round === 0) await winner.c.connect();
    else {
      const connected = once(winner.c, 'connected');
      winner.clock.advance(delays[round - 1]!);
      await connected;
    }
    const [end] = await closed;
    t.match(end, { code: CloseCode.FREEING_RESOURCES, remote: true, willReconnect: true }, `round ${round}: the older connection got Close 0xA1`);
    const [ev] = await rec;
    t.equal(ev.takenOver, true, `round ${round}: the reconnect says it follows a takeover`);
    delays.push(ev.delayMs);
    [winner, loser] = [loser, winner];
  }
  // Alternating losers a, b, a, b...: each one's streak is 1, 1, 2, 2, 3, 3 (random 0: half of 1 s × 2^(n-1)).
  t.same(delays, [500, 500, 1000, 1000, 2000, 2000], 'growing delays per client, never the plain ~100 ms reconnect');
});
