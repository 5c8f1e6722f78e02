import type { Test } from 'tap';
import { tokenKey } from '../../src/registry/token-registry.js';
import type { TokenStore } from '../../src/registry/token-store.js';
import { until } from '../helpers/until.js';

/**
 * Token stores of several nodes over one backing (one process's memory, or one Redis). Time:
 * `now()` is the nodes' clock and `elapse(ms)` lets it pass — a manual clock in memory; for Redis,
 * whose keys expire by Redis's own clock, a real wait (the contract keeps it under ~300 ms).
 */
export interface TokenFleet {
  node(id: string, opts?: { max?: number }): Promise<TokenStore>;
  now(): number;
  elapse(ms: number): Promise<void>;
}

const key = (t: { token: Buffer } | undefined) => tokenKey(t!.token);

/** What every TokenStore must do (PROTOCOL §7, CLUSTER.md guarantee 6), run on each implementation. */
export function tokenStoreContract(t: Test, makeFleet: (t: Test) => Promise<TokenFleet>): void {
  t.test('a token issued at one node is valid at another; an unknown one is not', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const issued = await a.issue('dev-1', 'Devices', 60_000, fleet.now());
    t.ok(issued, 'issued');
    t.equal(issued!.token.length, 8);
    t.match(issued!.info, { uid: 'dev-1', group: 'Devices' });
    t.match(await b.lookup(key(issued), fleet.now()), { uid: 'dev-1', group: 'Devices' });
    t.match(b.peek(key(issued), fleet.now()), { uid: 'dev-1' }, 'then known without a round trip');
    const unknown = tokenKey(Buffer.alloc(8, 7));
    t.equal(await b.lookup(unknown, fleet.now()), undefined);
    t.equal(b.peek(unknown, fleet.now()), undefined, 'an unknown token is known as such too');
    t.equal(await a.size, 1);
  });

  t.test('known(): which tokens the engine holds now, at any node, whatever a node cached', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const kept = await a.issue('dev-1', 'G', 60_000, fleet.now());
    const gone = await a.issue('dev-2', 'G', 60_000, fleet.now());
    t.ok(await b.lookup(key(gone), fleet.now()), 'B cached the one about to go');
    await a.revoke('dev-2');
    t.same(await b.known([key(kept), key(gone), tokenKey(Buffer.alloc(8, 9))]), [true, false, false], 'held, revoked, never issued');
    t.same(await b.known([]), [], 'nothing to check');
  });

  t.test('a UID holds at most two tokens: a new one frees the older ones, at every node', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const first = await a.issue('dev-1', 'G', 0, fleet.now());
    t.ok(await b.lookup(key(first), fleet.now()), 'B has looked the first one up (and may cache it)');
    const second = await b.issue('dev-1', 'G', 0, fleet.now());
    const third = await a.issue('dev-1', 'G', 0, fleet.now());
    await until(async () => (await b.lookup(key(first), fleet.now())) === undefined, 'the freed token dropped at B');
    t.equal(await a.lookup(key(first), fleet.now()), undefined, 'freed at A too');
    t.ok(await b.lookup(key(second), fleet.now()), 'the replaced one stays valid');
    t.ok(await b.lookup(key(third), fleet.now()), 'the current one is valid');
    t.equal(await a.size, 2);
    await a.issue('dev-2', 'G', 0, fleet.now());
    t.equal(await a.size, 3, 'another UID has its own');
  });

  t.test('revoke removes every token of a UID, at every node, and counts them', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const old = await a.issue('dev-1', 'G', 60_000, fleet.now());
    const cur = await a.issue('dev-1', 'G', 0, fleet.now());
    const other = await a.issue('dev-2', 'G', 0, fleet.now());
    for (const x of [old, cur, other]) t.ok(await b.lookup(key(x), fleet.now()), 'cached at B');
    t.equal(await a.revoke('dev-1'), 2);
    await until(async () => (await b.lookup(key(old), fleet.now())) === undefined && (await b.lookup(key(cur), fleet.now())) === undefined,
      'B dropped the revoked tokens from its cache');
    t.equal(await b.lookup(key(old), fleet.now()), undefined, 'revoked at B');
    t.equal(await b.lookup(key(cur), fleet.now()), undefined, 'revoked at B');
    t.ok(await b.lookup(key(other), fleet.now()), 'another UID keeps its token');
    t.equal(await a.revoke('dev-1'), 0, 'nothing left to revoke');
    t.equal(await b.revoke('nobody'), 0);
    t.equal(await a.size, 1);
  });

  t.test('an expired token is gone; a token without expiry stays', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const start = fleet.now();
    const short = await a.issue('dev-1', 'G', 150, start);
    const forever = await a.issue('dev-2', 'G', 0, start);
    t.ok(short!.info.expiresAt > start && short!.info.expiresAt <= start + 150, 'expiresAt in the node\'s clock');
    t.equal(forever!.info.expiresAt, Infinity);
    const seen = await b.lookup(key(short), fleet.now());
    t.ok(seen && seen.expiresAt <= start + 150 + 50, `B knows when it expires (${seen?.expiresAt} for ${start} + 150)`);
    await fleet.elapse(250);
    t.equal(b.peek(key(short), fleet.now()), undefined, 'expired in B\'s cache without a round trip');
    t.equal(await b.lookup(key(short), fleet.now()), undefined);
    t.equal(await a.lookup(key(short), fleet.now()), undefined);
    t.ok(await b.lookup(key(forever), fleet.now()), 'no expiry: still valid');
    await a.issue('dev-3', 'G', 0, fleet.now());
    t.equal(await a.size, 2, 'the expired token no longer counts');
  });

  t.test('a full store refuses to issue instead of evicting a live token; a renewal still fits', async (t) => {
    const fleet = await makeFleet(t);
    const a = await fleet.node('a', { max: 3 });
    const live = [await a.issue('a', 'G', 0, fleet.now()), await a.issue('a', 'G', 0, fleet.now()), await a.issue('b', 'G', 0, fleet.now())];
    t.equal(await a.issue('c', 'G', 0, fleet.now()), undefined, 'full: refused');
    t.equal(await a.issue('b', 'G', 0, fleet.now()), undefined, 'a second token for a UID needs room too');
    for (const x of live) t.ok(await a.lookup(key(x), fleet.now()), 'every live token still valid');
    const renewed = await a.issue('a', 'G', 0, fleet.now());
    t.ok(renewed, 'a UID holding two tokens renews: its oldest makes the room');
    t.equal(await a.lookup(key(live[0]), fleet.now()), undefined, 'the oldest went');
    t.equal(await a.size, 3);
  });

  t.test('an expired token makes room in a full store', async (t) => {
    const fleet = await makeFleet(t);
    const a = await fleet.node('a', { max: 2 });
    const kept = await a.issue('a', 'G', 0, fleet.now());
    await a.issue('b', 'G', 150, fleet.now());
    await fleet.elapse(250);
    const c = await a.issue('c', 'G', 0, fleet.now());
    t.ok(c && (await a.lookup(key(c), fleet.now())), 'issued in the expired one\'s place');
    t.ok(await a.lookup(key(kept), fleet.now()), 'the live one stays');
  });

  t.test('racing issues for one UID at several nodes never leave more than two valid tokens', async (t) => {
    const fleet = await makeFleet(t);
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => fleet.node(id)));
    const issued = await Promise.all(Array.from({ length: 12 }, (_, i) => nodes[i % 3]!.issue('dev-1', 'G', 0, fleet.now())));
    const valid = [];
    for (const x of issued) if (x && (await nodes[0]!.lookup(key(x), fleet.now()))) valid.push(x);
    t.equal(valid.length, 2, 'two survive');
    t.equal(await nodes[1]!.size, 2);
    t.equal(await nodes[2]!.revoke('dev-1'), 2);
  });

  t.test('UIDs of any UTF-8 keep their tokens apart', async (t) => {
    const fleet = await makeFleet(t);
    const a = await fleet.node('a');
    const uids = ['{a}', 'é:日本', 'x'.repeat(16), 'a}b{'];
    const tokens = await Promise.all(uids.map((u) => a.issue(u, 'G', 0, fleet.now())));
    for (const [i, u] of uids.entries()) t.match(await a.lookup(key(tokens[i]), fleet.now()), { uid: u });
    t.equal(await a.revoke('{a}'), 1);
    t.equal(await a.size, 3);
  });
}
