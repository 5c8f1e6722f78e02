import t from 'tap';
import { RemoteWaits } from '../../src/cluster/remote-waits.js';
import type { ResponseTarget } from '../../src/routing/request-tracker.js';

const target = (name: string): ResponseTarget & { name: string } => ({ name, deliverResponse: () => {} });

t.test('a wait is taken once, by its id, with what it was added with', async (t) => {
  const w = new RemoteWaits();
  const o = target('o');
  w.add(1, o, 'b', 'dev-1', 7, 100);
  w.add(2, target('p'), 'c', 'dev-2', 8, 200);
  t.equal(w.size, 2);
  const p = w.take(2)!;
  t.equal((p.origin as { name?: string }).name, 'p');
  t.same([p.node, p.uid, p.tracking, p.deadline], ['c', 'dev-2', 8, 200]);
  t.equal(w.takeOrigin(1), o);
  t.equal(w.takeOrigin(1), undefined, 'answered once');
  t.equal(w.take(2), undefined);
  t.equal(w.size, 0);
});

t.test('the fields of a wait come back whole', async (t) => {
  const w = new RemoteWaits();
  const o = target('o');
  w.add(5, o, 'b', 'dev-1', -1, 123.5);
  const got = w.take(5)!;
  t.equal(got.origin, o);
  t.same({ node: got.node, uid: got.uid, tracking: got.tracking, deadline: got.deadline }, { node: 'b', uid: 'dev-1', tracking: -1, deadline: 123.5 });
});

t.test('a wait still there when its slot comes round again moves aside: neither lost nor overwritten', async (t) => {
  const w = new RemoteWaits();
  const slow = target('slow');
  w.add(1, slow, 'dead', 'dev-0', 1, 10);
  // Thousands answered in turn since, one of them in the slow wait's slot.
  let lost = 0;
  for (let id = 2; id <= 20_000; id++) {
    w.add(id, target('x'), 'b', 'dev-1', id & 0xffff, 1_000 + id);
    if (id > 2 && w.takeOrigin(id - 1) === undefined) lost++;
  }
  t.equal(lost, 0, 'every wait answered in turn was there');
  t.equal(w.size, 2, 'the slow one and the last one');
  t.same(w.expired(10), [1], 'the slow one still expires');
  t.same(w.waitingFor('dead'), [1]);
  t.equal(w.takeOrigin(1), slow, 'and is taken whole');
  t.ok(w.takeOrigin(20_000));
  t.equal(w.size, 0);
});

t.test('expired, waitingFor and ids list the waits oldest first; clear empties it', async (t) => {
  const w = new RemoteWaits();
  // Ids that wrap the ring (the fleet's ids are a u32 sequence).
  const ids = [4094, 4095, 4096, 4097, 4098];
  for (const [i, id] of ids.entries()) w.add(id, target(String(id)), i % 2 === 0 ? 'b' : 'c', 'dev', i, 100 * i);
  t.same(w.ids(), ids);
  t.same(w.expired(200), [4094, 4095, 4096]);
  t.same(w.waitingFor('c'), [4095, 4097]);
  w.clear();
  t.equal(w.size, 0);
  t.same(w.ids(), []);
  t.equal(w.takeOrigin(4096), undefined);
});
