import t from 'tap';
import { CHALLENGE_LENGTH } from '../../src/protocol/index.js';
import { ChallengePool } from '../../src/session/challenge-pool.js';

t.test('challenges are 16 bytes, all different, across block refills', async (t) => {
  const pool = new ChallengePool(4);
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const c = pool.next();
    t.equal(c.length, CHALLENGE_LENGTH);
    seen.add(c.toString('hex'));
  }
  t.equal(seen.size, 50);
});

t.test('a challenge handed out keeps its bytes after later blocks are drawn', async (t) => {
  const pool = new ChallengePool(2);
  const first = pool.next();
  const copy = Buffer.from(first);
  for (let i = 0; i < 10; i++) pool.next();
  t.same(first, copy);
});
