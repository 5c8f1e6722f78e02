import type { Test } from 'tap';
import type { LeaseState, NodeRegistry } from '../../src/registry/node-registry.js';

/**
 * Registries of several nodes over one engine. `frozen`: a node whose heartbeats never run after
 * its first announcement (what `kill -9` leaves). `elapse(ms)` lets the fleet's time pass (a
 * manual clock in memory; a real wait for Redis, whose leases expire by its own clock).
 * `outage()` makes the engine unreachable until the function it returns is called.
 */
export interface NodeFleet {
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  node(id: string, opts?: { frozen?: boolean }): NodeRegistry;
  elapse(ms: number): Promise<void>;
  outage(): Promise<() => Promise<void>>;
}

const announce = (id: string, over: { sessions?: number; protocol?: number; protocols?: { min: number; max: number } } = {}) => ({ address: `${id}.example:7000`, sessions: 0, protocol: 1, ...over });

/** Lets fleet time pass, a heartbeat at a time, until `cond` holds (within two leases and 5 s of fleet time). */
async function eventually(fleet: NodeFleet, cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const limitMs = 2 * fleet.leaseMs + 5_000; // 5 s: a Redis connection's reconnect backs off to 1 s
  for (let waited = 0; !(await cond()); waited += fleet.heartbeatMs) {
    if (waited > limitMs) throw new Error(`not within ${limitMs} ms of fleet time: ${what}`);
    await fleet.elapse(fleet.heartbeatMs);
  }
}

/** What every node registry engine must do (CLUSTER.md guarantee 5, issue 12), run on each. */
export function nodeRegistryContract(t: Test, makeFleet: (t: Test) => Promise<NodeFleet>): void {
  t.test('a started node is live at every node with its address, load and protocol; its load follows', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = [fleet.node('a'), fleet.node('b')];
    t.equal(a.state, 'idle');
    await a.start(announce('a', { sessions: 3 }));
    await b.start(announce('b'));
    t.equal(a.state, 'live');
    t.match((await b.live()).find((n) => n.node === 'a'), { node: 'a', address: 'a.example:7000', sessions: 3, protocol: 1, incarnation: a.incarnation });
    t.same((await b.live()).map((n) => n.node).sort(), ['a', 'b']);
    a.setSessions(17);
    await eventually(fleet, async () => (await b.live()).find((n) => n.node === 'a')?.sessions === 17, 'the heartbeat publishes the new load');
    await fleet.elapse(fleet.leaseMs * 2);
    t.same((await b.live()).map((n) => n.node).sort(), ['a', 'b'], 'heartbeats keep both alive past their lease');
    t.same(await b.dead(), []);
  });

  t.test('the advertised address and the drain flag are published; setDraining is announced at once, not at the next heartbeat', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = [fleet.node('a'), fleet.node('b')];
    await a.start({ ...announce('a'), advertise: { host: 'a.example', port: 7000 } });
    await b.start(announce('b'));
    t.match((await b.live()).find((n) => n.node === 'a'), { advertise: { host: 'a.example', port: 7000 }, draining: false });
    t.notOk((await a.live()).find((n) => n.node === 'b')!.advertise, 'no advertise: none published');
    await a.setDraining(true);
    t.equal((await b.live()).find((n) => n.node === 'a')?.draining, true, 'seen before any heartbeat');
    await a.setDraining(false);
    t.equal((await b.live()).find((n) => n.node === 'a')?.draining, false);
  });

  t.test('a stopped node leaves the list at once', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = [fleet.node('a'), fleet.node('b')];
    await a.start(announce('a'));
    await b.start(announce('b'));
    await a.stop();
    t.equal(a.state, 'stopped');
    t.same((await b.live()).map((n) => n.node), ['b']);
    t.same(await b.dead(), [], 'not dead: gone');
  });

  t.test('a node whose heartbeats stop is dead after its lease; exactly one survivor reaps it', async (t) => {
    const fleet = await makeFleet(t);
    const dying = fleet.node('d', { frozen: true });
    const survivors = ['a', 'b', 'c'].map((id) => fleet.node(id));
    await dying.start(announce('d'));
    for (const s of survivors) await s.start(announce(s.node));
    const info = (await survivors[0]!.live()).find((n) => n.node === 'd')!;
    t.ok(info, 'd is live at first');
    t.equal(await survivors[0]!.reap(info), false, 'a live node cannot be reaped');
    await eventually(fleet, async () => (await survivors[1]!.dead()).some((n) => n.node === 'd'), 'd is seen dead');
    t.notOk((await survivors[1]!.live()).some((n) => n.node === 'd'), 'and no longer live');
    const [dead] = await survivors[2]!.dead();
    t.match(dead, { node: 'd', incarnation: info.incarnation, address: 'd.example:7000' });
    const wins = await Promise.all([...survivors, survivors[0]!, survivors[1]!].map((s) => s.reap(dead!)));
    t.equal(wins.filter(Boolean).length, 1, `one winner of ${wins.length} racing reaps`);
    t.equal(await survivors[2]!.reap(dead!), false, 'a later reap loses too');
    await survivors[wins.indexOf(true) % 3]!.forget(dead!);
    t.same(await survivors[0]!.dead(), [], 'reaped and forgotten');
  });

  t.test('a node that cannot refresh its lease knows it lapsed, claims nothing, and comes back by itself', async (t) => {
    const fleet = await makeFleet(t);
    const a = fleet.node('a');
    const states: LeaseState[] = [];
    a.onState((s) => states.push(s));
    await a.start(announce('a'));
    const first = a.incarnation;
    const restore = await fleet.outage();
    let restored = false;
    t.teardown(() => (restored ? undefined : restore()));
    await eventually(fleet, () => a.state === 'lapsed', 'a sees its lease lapse');
    t.equal(await a.reap({ node: 'x', incarnation: '1', address: '', sessions: 0, protocol: 1 }), false, 'a lapsed node reaps nothing');
    await restore();
    restored = true;
    await eventually(fleet, () => a.state === 'live', 'the heartbeat resumes');
    t.not(a.incarnation, first, 'as a new incarnation (the old one may have been reaped meanwhile)');
    t.same(states, ['live', 'lapsed', 'live']);
    const b = fleet.node('b');
    await b.start(announce('b'));
    t.match((await b.live()).find((n) => n.node === 'a'), { incarnation: a.incarnation });
  });

  t.test('a node whose node-protocol versions miss a live node\'s refuses to join, naming both; overlapping ranges join (a rolling upgrade)', async (t) => {
    const fleet = await makeFleet(t);
    const v = (min: number, max: number) => ({ protocol: max, protocols: { min, max } });
    const old = fleet.node('a');
    await old.start(announce('a', { protocol: 1 })); // a record without a range: it speaks just 1
    const c = fleet.node('c');
    await t.rejects(c.start(announce('c', v(2, 2))), {
      code: 'ERR_IOTS_CLUSTER_PROTOCOL', node: 'c', own: { min: 2, max: 2 }, other: { node: 'a', address: 'a.example:7000', protocols: { min: 1, max: 1 } },
      message: /^node c speaks node protocol 2 and cannot join: live node a \(a\.example:7000\) speaks 1; /,
    });
    t.equal(c.state, 'idle', 'refused before announcing');
    t.notOk((await fleet.node('x').live()).some((n) => n.node === 'c'), 'and not listed');
    const b = fleet.node('b');
    await b.start(announce('b', v(1, 2)));
    t.match((await b.live()).find((n) => n.node === 'b'), { protocol: 2, protocols: { min: 1, max: 2 } }, 'the range is in the record');
    await t.rejects(fleet.node('c2').start(announce('c2', v(2, 3))), { code: 'ERR_IOTS_CLUSTER_PROTOCOL', other: { node: 'a' } }, 'still refused while a node speaking only 1 is live');
    await old.stop();
    t.notOk((await b.live()).some((n) => n.node === 'a'), 'the last node of the old release left');
    const c3 = fleet.node('c3');
    await c3.start(announce('c3', v(2, 3)));
    t.same((await c3.live()).map((n) => n.node).sort(), ['b', 'c3'], 'the next release joins once every live node speaks a version it speaks');
  });
}
