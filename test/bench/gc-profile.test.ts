import t from 'tap';
import { startGcProfile, stopGcProfile } from '../../bench/lib/gc-profile.js';

t.test('counts the scavenges of a span and the bytes it allocated; what dies young does not survive', async (t) => {
  let keep: Array<{ i: number; pad: number[] }> = [];
  const churn = (n: number) => {
    for (let i = 0; i < n; i++) {
      keep.push({ i, pad: [i, i + 1, i + 2, i + 3] }); // about 64 bytes each
      if (keep.length > 100) keep = [];
    }
  };
  churn(200_000); // warmed up: what loading the test left young is promoted by then
  startGcProfile();
  churn(1_000_000);
  const g = stopGcProfile();
  t.ok(g.scavenges >= 1, `scavenges: ${g.scavenges}`);
  t.ok(g.allocatedBytes > 40e6 && g.allocatedBytes < 400e6, `allocated: ${g.allocatedBytes} bytes`);
  const perScavenge = g.allocatedBytes / g.scavenges;
  t.ok(g.survivedPerScavenge < perScavenge / 10, `surviving each: ${g.survivedPerScavenge} of the ${perScavenge.toFixed(0)} bytes allocated between two`);
  t.ok(g.medianScavengeUs > 0 && g.maxScavengeUs >= g.medianScavengeUs);
  t.ok(keep.length <= 100);
});
