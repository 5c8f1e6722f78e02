import t from 'tap';
import { RestartPolicy } from '../../src/cli/worker-restarts.js';

const opts = { firstDelayMs: 100, maxDelayMs: 1000, stableMs: 30_000, maxQuickDeaths: 5 };

t.test('quick deaths in a row: the delay doubles up to the cap, then the primary gives up', async (t) => {
  const p = new RestartPolicy(opts);
  const delays = [1, 2, 3, 4, 5].map(() => p.died(1, 10));
  t.same(delays.map((d) => d.restart && d.delayMs), [100, 200, 400, 800, 1000], '100, 200, 400, 800, then the 1 s cap');
  t.same(p.died(1, 10), { restart: false, quickDeaths: 6 }, 'the sixth quick death in a row: no restart');
});

t.test('a worker that stayed up stableMs starts its slot afresh; slots are counted apart', async (t) => {
  const p = new RestartPolicy(opts);
  p.died(1, 0);
  p.died(1, 0);
  t.same(p.died(2, 0), { restart: true, delayMs: 100, quickDeaths: 1 }, 'slot 2 is not charged with slot 1\'s deaths');
  t.same(p.died(1, 30_000), { restart: true, delayMs: 100, quickDeaths: 1 }, 'up 30 s: back to the first delay');
});
