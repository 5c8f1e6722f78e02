import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { TokenRegistry, tokenKey } from '../../src/registry/token-registry.js';

const MIN = 60_000;
const valid = (r: TokenRegistry, token: Buffer | undefined) => token !== undefined && r.lookup(tokenKey(token)) !== undefined;

t.test('a UID holds at most two tokens: the current one and the one it replaced (PROTOCOL §7 renewal overlap)', async (t) => {
  const r = new TokenRegistry(new ManualClock(), 100);
  const issued = [];
  for (let i = 0; i < 5; i++) issued.push(r.issue('a', 'G', 0)?.token);
  t.equal(r.size, 2, 'five logins with no expiry leave two tokens, not five');
  t.same(issued.map((k) => valid(r, k)), [false, false, false, true, true], 'the older ones are freed');
  r.issue('b', 'G', 0);
  t.equal(r.size, 3, 'another UID has its own');
});

t.test('a renewed token leaves the old one valid until its own expiry', async (t) => {
  const clock = new ManualClock();
  const r = new TokenRegistry(clock, 100);
  const first = r.issue('a', 'G', 60 * MIN)!.token;
  clock.advance(48 * MIN);
  const renewed = r.issue('a', 'G', 60 * MIN)!.token;
  t.ok(valid(r, first) && valid(r, renewed), 'both valid during the overlap');
  clock.advance(12 * MIN);
  t.same([valid(r, first), valid(r, renewed)], [false, true], 'the old one ends at its expiry');
});

t.test('a full registry refuses to issue instead of evicting a live token', async (t) => {
  const clock = new ManualClock();
  clock.advance(1_000); // lru-cache sees no expiry in entries set at clock time 0
  const r = new TokenRegistry(clock, 3);
  const live = ['a', 'b'].map((u) => r.issue(u, 'G', 0)!.token);
  const short = r.issue('c', 'G', MIN)!.token;
  t.equal(r.issue('d', 'G', 0), undefined, 'no room: refused');
  t.equal(r.issue('a', 'G', 0), undefined, 'a second token for a UID needs room too');
  t.ok(live.every((k) => valid(r, k)) && valid(r, short), 'every live token still valid');
  t.equal(r.size, 3);
  clock.advance(MIN);
  const d = r.issue('d', 'G', 0);
  t.ok(d && valid(r, d.token), 'an expired token is purged to make room');
  t.notOk(valid(r, short), 'it was the expired one that went');
});

t.test('in a full registry, a UID that holds two tokens still renews: its oldest makes the room', async (t) => {
  const r = new TokenRegistry(new ManualClock(), 2);
  const [first, second] = [r.issue('a', 'G', 0)!.token, r.issue('a', 'G', 0)!.token];
  const third = r.issue('a', 'G', 0);
  t.ok(third, 'issued');
  t.same([valid(r, first), valid(r, second), valid(r, third?.token)], [false, true, true]);
});
