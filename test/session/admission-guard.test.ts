import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { AdmissionGuard } from '../../src/session/admission-guard.js';

const opts = { failuresPerMinute: 3, banSec: 300, acceptPerSec: 1000 };

t.test('the Nth failure within a minute bans the IP until now + banSec, as an ISO time', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const g = new AdmissionGuard(clock, opts);
  t.equal(g.recordFailure('10.0.0.1'), undefined);
  t.equal(g.recordFailure('10.0.0.1'), undefined);
  clock.advance(1000);
  t.same(g.recordFailure('10.0.0.1'), { ip: '10.0.0.1', until: '2026-01-01T00:05:01.000Z' }, 'third failure starts the ban');
  t.equal(g.recordFailure('10.0.0.1'), undefined, 'a failure during the ban starts no second one');
  t.ok(g.isBanned('10.0.0.1'));
  t.notOk(g.isBanned('10.0.0.2'));
  t.same(g.bans(), [{ ip: '10.0.0.1', until: '2026-01-01T00:05:01.000Z' }]);
  clock.advance(300_000);
  t.notOk(g.isBanned('10.0.0.1'), 'over at its end');
  t.same(g.bans(), [], 'and no longer listed');
});

t.test('lift ends a ban and forgets the failures; the IPv4-mapped form is lifted with the plain one', async (t) => {
  const clock = new ManualClock();
  const g = new AdmissionGuard(clock, opts);
  for (const ip of ['::ffff:127.0.0.1', '192.0.2.9', '192.0.2.9', '192.0.2.9', '::ffff:127.0.0.1', '::ffff:127.0.0.1']) g.recordFailure(ip);
  t.same(g.bans().map((b) => b.ip), ['192.0.2.9', '::ffff:127.0.0.1'], 'sorted by IP');
  t.notOk(g.lift('10.9.9.9'), 'not banned: false');
  t.ok(g.lift('127.0.0.1'), 'the mapped form is what the socket reported');
  t.notOk(g.isBanned('::ffff:127.0.0.1'));
  t.ok(g.lift('192.0.2.9'));
  t.same(g.bans(), []);
  t.equal(g.recordFailure('192.0.2.9'), undefined, 'failures forgotten: one more failure does not ban again');
});

t.test('banSec 0 never bans (and so never reports a ban)', async (t) => {
  const g = new AdmissionGuard(new ManualClock(), { ...opts, banSec: 0 });
  for (let i = 0; i < 10; i++) t.equal(g.recordFailure('10.0.0.1'), undefined);
  t.notOk(g.isBanned('10.0.0.1'));
});

// Issue 14: a guard is made with every listener; its per-IP table is usually empty, and
// lru-cache with `max` allocates its index arrays for every slot up front (~2.7 MiB for 100 000).
t.test('a guard holds no per-IP table up front, and still forgets the least recently seen IP beyond 100 000', async (t) => {
  const before = process.memoryUsage().arrayBuffers;
  const guards = Array.from({ length: 4 }, () => new AdmissionGuard(new ManualClock(), opts));
  const grown = process.memoryUsage().arrayBuffers - before;
  t.ok(grown < 256 * 1024, `4 new guards hold ${grown} bytes of array buffers`);
  const g = guards[0]!;
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  for (let n = 0; n < 3; n++) g.recordFailure(ip(0)); // banned
  for (let n = 0; n < 3; n++) g.recordFailure(ip(1)); // banned, then seen again below
  for (let i = 2; i < 100_000; i++) g.recordFailure(ip(i));
  t.ok(g.isBanned(ip(0)) && g.isBanned(ip(1)));
  g.recordFailure(ip(1)); // ip(0) is now the least recently seen
  g.recordFailure(ip(100_000));
  t.notOk(g.isBanned(ip(0)), 'the least recently seen IP is forgotten');
  t.ok(g.isBanned(ip(1)), 'one seen since is kept');
});
