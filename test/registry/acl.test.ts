import t from 'tap';
import { Acl } from '../../src/registry/acl.js';

// Acl.revokedIn decides whose sessions and UDP tokens end at a replacement (PROTOCOL §5):
// a removed UID, and equally one whose key or group changed; never an unchanged entry.

const groups = new Set(['Devices', 'Meters']);
const key = (b: number) => Buffer.alloc(16, b);

function acl(entries: Array<[uid: string, group: string, keyByte: number]>): Acl {
  const a = Acl.from(entries.map(([uid, group, k]) => ({ uid, group, key: key(k) })), groups);
  if (Array.isArray(a)) throw new Error(`test ACL rejected: ${JSON.stringify(a)}`);
  return a;
}

const before = acl([['kept', 'Devices', 1], ['rekeyed', 'Devices', 2], ['regrouped', 'Devices', 3], ['removed', 'Devices', 4]]);

t.test('a removed UID, a new key and a new group each revoke; an unchanged entry does not', async (t) => {
  const after = acl([['kept', 'Devices', 1], ['rekeyed', 'Devices', 0x22], ['regrouped', 'Meters', 3], ['added', 'Devices', 5]]);
  t.same(before.revokedIn(after).sort(), ['regrouped', 'rekeyed', 'removed']);
});

t.test('each change alone revokes exactly that UID', async (t) => {
  const base: Array<[string, string, number]> = [['kept', 'Devices', 1], ['rekeyed', 'Devices', 2], ['regrouped', 'Devices', 3], ['removed', 'Devices', 4]];
  t.same(before.revokedIn(acl(base.map((e) => (e[0] === 'rekeyed' ? [e[0], e[1], 0x22] : e)))), ['rekeyed'], 'key only');
  t.same(before.revokedIn(acl(base.map((e) => (e[0] === 'regrouped' ? [e[0], 'Meters', e[2]] : e)))), ['regrouped'], 'group only');
  t.same(before.revokedIn(acl(base.filter((e) => e[0] !== 'removed'))), ['removed'], 'removal only');
});

t.test('a key differing in its last byte only is a change', async (t) => {
  const k = key(1);
  k[15] = 2;
  const a = Acl.from([{ uid: 'kept', group: 'Devices', key: k }], groups) as Acl;
  t.same(acl([['kept', 'Devices', 1]]).revokedIn(a), ['kept']);
});

t.test('the same entries, rebuilt from copies of the keys, revoke nothing', async (t) => {
  const copy = Acl.from(before.entries().map((e) => ({ ...e, key: Buffer.from(e.key) })), groups) as Acl;
  t.same(before.revokedIn(copy), []);
  t.same(before.revokedIn(before), []);
});

t.test('from the empty ACL nothing is revoked; to it, everything', async (t) => {
  t.same(Acl.empty.revokedIn(before), []);
  t.same(before.revokedIn(Acl.empty).sort(), ['kept', 'regrouped', 'rekeyed', 'removed']);
});

// The compact representation (issue 14) answers as the map of records did.
t.test('get, has and entries answer each entry with its own group and key', async (t) => {
  const a = acl([['a', 'Devices', 1], ['b', 'Meters', 2], ['c', 'Devices', 3]]);
  t.equal(a.size, 3);
  t.ok(a.has('b'));
  t.notOk(a.has('z'));
  t.equal(a.get('z'), undefined);
  t.same([a.get('a')?.group, a.get('b')?.group, a.get('c')?.group], ['Devices', 'Meters', 'Devices']);
  t.ok(a.get('b')?.key.equals(key(2)), 'its own key, not a neighbour\'s');
  t.same(a.entries().map((e) => [e.uid, e.group, e.key.toString('hex')]), [
    ['a', 'Devices', key(1).toString('hex')], ['b', 'Meters', key(2).toString('hex')], ['c', 'Devices', key(3).toString('hex')],
  ]);
});

t.test('the ACL holds copies of the keys it was built from', async (t) => {
  const k = key(7);
  const a = Acl.from([{ uid: 'x', group: 'Devices', key: k }], groups) as Acl;
  k.fill(0);
  t.ok(a.get('x')?.key.equals(key(7)));
});

t.test('a rejected list builds nothing and names each problem', async (t) => {
  const r = Acl.from([{ uid: 'x', group: 'Devices', key: key(1) }, { uid: 'x', group: 'Devices', key: key(2) }, { uid: 'y', group: 'Nope', key: key(3) }], groups);
  t.ok(Array.isArray(r));
  t.same((r as Array<{ reason: string }>).map((p) => p.reason), ['duplicate-uid', 'unknown-group']);
});
