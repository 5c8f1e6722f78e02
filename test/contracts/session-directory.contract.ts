import type { Test } from 'tap';
import type { SessionDirectory, SessionInfo } from '../../src/registry/session-directory.js';

/** Directories of several nodes over one shared backing (one process's memory, or one Redis). */
export interface DirectoryFleet {
  node(id: string): Promise<SessionDirectory>;
}

const info = (over: Partial<SessionInfo> = {}): SessionInfo => ({ kind: 'object', group: 'Devices', peer: '127.0.0.1:5000', tls: false, maxTransmissionLength: 0, ...over });

/**
 * What every SessionDirectory must do (CLUSTER.md guarantees 3–5), run on each implementation
 * (in the manner of aedes-persistence's abstract tests).
 */
export function sessionDirectoryContract(t: Test, makeFleet: (t: Test) => Promise<DirectoryFleet>): void {
  t.test('a first claim has no previous entry; lookup shows it connected on its node', async (t) => {
    const a = await (await makeFleet(t)).node('a');
    const r = await a.claim('dev-1', info({ tls: true, maxTransmissionLength: 512, peer: '127.0.0.2:9' }), 1000);
    t.equal(r.previous, undefined);
    t.match(await a.lookup('dev-1'), {
      uid: 'dev-1', node: 'a', claim: r.claim, state: 'connected', since: 1000, keptUntil: 0,
      kind: 'object', group: 'Devices', peer: '127.0.0.2:9', tls: true, maxTransmissionLength: 512,
    });
    t.equal(await a.size, 1);
  });

  t.test('a claim on another node takes over; the old claim is fenced', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const first = await a.claim('dev-1', info(), 1);
    const second = await b.claim('dev-1', info(), 2);
    t.match(second.previous, { node: 'a', claim: first.claim, state: 'connected' }, 'B learns whom to take over from');
    t.not(second.claim, first.claim);
    t.equal(await a.keep('dev-1', first.claim, 100, 3), false, 'A cannot keep what B holds');
    t.equal(await a.end('dev-1', first.claim), undefined, 'nor end it');
    t.match(await b.lookup('dev-1'), { node: 'b', claim: second.claim, state: 'connected' });
    t.same(await a.heldBy('a'), [], 'A holds nothing any more');
    t.same((await a.heldBy('b')).map((e) => e.uid), ['dev-1']);
  });

  t.test('keep, then resume elsewhere: the claim sees the kept entry', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const first = await a.claim('dev-1', info({ maxTransmissionLength: 300 }), 1);
    t.equal(await a.keep('dev-1', first.claim, 60_001, 1000), true);
    t.match(await b.lookup('dev-1'), { state: 'kept', keptUntil: 60_001, since: 1000, node: 'a', maxTransmissionLength: 300 });
    t.same(await a.heldBy('a'), [], 'a kept session is held by no node');
    const resumed = await b.claim('dev-1', info(), 2000);
    t.match(resumed.previous, { state: 'kept', claim: first.claim });
    t.match(await a.lookup('dev-1'), { state: 'connected', node: 'b', keptUntil: 0 });
    t.same(await a.expired(1e12, 10), [], 'a resumed session is not due for expiry');
  });

  t.test('end removes the entry once; of racing enders exactly one gets it', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const c = await a.claim('dev-1', info(), 1);
    await a.keep('dev-1', c.claim, 10, 5);
    const results = await Promise.all([a.end('dev-1', c.claim), b.end('dev-1', c.claim), b.end('dev-1', c.claim)]);
    t.equal(results.filter((r) => r !== undefined).length, 1, 'one winner');
    t.equal(await a.lookup('dev-1'), undefined);
    t.equal(await a.size, 0);
    await a.claim('dev-2', info(), 1);
    t.match(await b.end('dev-2'), { uid: 'dev-2' }, 'an unconditional end (revocation) removes any claim');
    t.equal(await b.end('nobody'), undefined);
  });

  t.test('expired lists only kept sessions whose time is up', async (t) => {
    const a = await (await makeFleet(t)).node('a');
    for (const [uid, until] of [['k1', 100], ['k2', 200], ['k3', 300]] as const) {
      const c = await a.claim(uid, info(), 0);
      await a.keep(uid, c.claim, until, 0);
    }
    await a.claim('connected', info(), 0);
    t.same((await a.expired(200, 10)).map((e) => e.uid).sort(), ['k1', 'k2']);
    t.equal((await a.expired(1000, 2)).length, 2, 'bounded by max');
    t.same(await a.expired(99, 10), []);
  });

  t.test('list pages through the fleet in UID order, each entry once', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const uids = Array.from({ length: 25 }, (_, i) => `u-${String(i).padStart(2, '0')}`);
    for (const [i, u] of uids.entries()) await (i % 2 ? a : b).claim(u, info(), i);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await a.list(after, 10);
      seen.push(...page.entries.map((e) => e.uid));
      after = page.next;
      pages++;
    } while (after !== undefined && pages < 10);
    t.same(seen, uids, 'every UID once, in order');
    t.equal(pages, 3);
    t.same((await b.list(undefined, 100)).entries.map((e) => e.node).filter((n) => n === 'a').length, 12, 'each entry names its node');
  });

  t.test('lookupMany answers in the order asked, missing ones undefined', async (t) => {
    const a = await (await makeFleet(t)).node('a');
    await a.claim('x', info(), 1);
    await a.claim('z', info({ kind: 'central', group: '' }), 1);
    const got = await a.lookupMany(['z', 'nope', 'x']);
    t.same(got.map((e) => e?.uid), ['z', undefined, 'x']);
    t.equal(got[0]!.kind, 'central');
    t.same(await a.lookupMany([]), []);
  });

  t.test('UIDs of any bytes: UTF-8, braces, colons, the central\'s empty UID', async (t) => {
    const a = await (await makeFleet(t)).node('a');
    const odd = ['{tag}', 'a:b:c', 'çà-日本', '', 'x'.repeat(16)];
    for (const u of odd) await a.claim(u, info(), 1);
    t.same((await a.lookupMany(odd)).map((e) => e?.uid), odd);
    t.same((await a.list(undefined, 100)).entries.map((e) => e.uid).sort(), [...odd].sort());
  });

  t.test('racing claims of one UID from two nodes leave one owner, and the loser is fenced', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.node('a'), fleet.node('b')]);
    const [ra, rb] = await Promise.all([a.claim('dev-1', info(), 1), b.claim('dev-1', info(), 1)]);
    const owner = await a.lookup('dev-1');
    const winner = owner!.claim === ra.claim ? ra : rb;
    const loser = winner === ra ? rb : ra;
    t.equal(winner.previous?.claim, loser.claim, 'the winner replaced the loser');
    t.equal(await (loser === ra ? a : b).keep('dev-1', loser.claim, 10, 2), false, 'the loser is fenced');
    const claims = new Set<string>();
    for (let i = 0; i < 50; i++) claims.add((await (i % 2 ? a : b).claim(`c-${i}`, info(), i)).claim);
    t.equal(claims.size, 50, 'every claim is distinct');
  });
}
