import type { Test } from 'tap';
import type { AclEntry } from '../../src/protocol/index.js';
import type { AclStore } from '../../src/registry/acl-store.js';
import { until } from '../helpers/until.js';

/** Stores over one backing, as two nodes (or a node and the `iotsocket acl` tool) see it. */
export interface AclStoreFleet {
  store(id: string): Promise<AclStore>;
}

const entry = (uid: string, group = 'Devices', fill = 1): AclEntry => ({ uid, group, key: Buffer.alloc(16, fill) });
const view = (es: readonly AclEntry[]) => es.map((e) => [e.uid, e.group, e.key.toString('hex')]).sort();

/** What every AclStore must do, run on each implementation. */
export function aclStoreContract(t: Test, makeFleet: (t: Test) => Promise<AclStoreFleet>): void {
  t.test('empty at first; a replacement reads back whole, at any store of the fleet', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.store('a'), fleet.store('b')]);
    t.same((await a.read()).entries, []);
    const v = await a.replace([entry('m-1'), entry('m-2', 'Stations', 7)]);
    const snap = await b.read();
    t.same(view(snap.entries), view([entry('m-1'), entry('m-2', 'Stations', 7)]));
    t.equal(snap.version, v, 'the version read is the one written');
    t.equal(await b.version(), v);
  });

  t.test('versions change with every replacement; equal content, equal reads', async (t) => {
    const a = await (await makeFleet(t)).store('a');
    const v0 = await a.version();
    const v1 = await a.replace([entry('x')]);
    const v2 = await a.replace([entry('y')]);
    t.not(v1, v0);
    t.not(v2, v1);
    t.equal((await a.read()).version, v2);
    await a.replace([]);
    t.same((await a.read()).entries, [], 'an empty ACL is an ACL');
  });

  t.test('a replacement at one store is seen by another\'s watcher', async (t) => {
    const fleet = await makeFleet(t);
    const [a, b] = await Promise.all([fleet.store('a'), fleet.store('b')]);
    let changes = 0;
    const stop = b.watch(() => changes++);
    t.teardown(stop);
    await new Promise((r) => setTimeout(r, 50)); // the watch is set up asynchronously (subscribe, fs.watch)
    await a.replace([entry('new')]);
    await until(() => changes > 0, 'a change notice at the other store');
    t.same(view((await b.read()).entries), view([entry('new')]));
  });

  t.test('UIDs of any UTF-8 survive the round trip', async (t) => {
    const a = await (await makeFleet(t)).store('a');
    const odd = [entry('{a}'), entry('é:日本'), entry('x'.repeat(16))];
    await a.replace(odd);
    t.same(view((await a.read()).entries), view(odd));
  });
}
