import t from 'tap';
import { readFileSync } from 'node:fs';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { parseAclJson } from '../../src/registry/acl-file.js';
import { device, type Device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const dev1 = device('dev-1');
const st1 = device('st-1', 'Stations');
const dev2 = device('dev-2');
const entry = (d: Device) => ({ GroupName: d.group, UID: d.uid, AuthKey: d.key.toString('hex') });

t.test('POST /acl replaces and persists the ACL; a removed object\'s session is closed', async (t) => {
  const d = await startHttpDaemon(t, [dev1, st1]);
  const o1 = (await RawClient.open(d.port, dev1.uid, dev1.key)).client;
  const s1 = (await RawClient.open(d.port, st1.uid, st1.key)).client;
  t.teardown(() => { o1.close(); s1.close(); });
  t.notOk((await RawClient.open(d.port, dev2.uid, dev2.key)).accepted, 'dev-2 is not in the ACL yet');

  const r = await d.post('/acl', [entry(dev1), { ...entry(dev2), AuthKey: dev2.key.toString('hex').toUpperCase() }]);
  t.same([r.status, r.text], [200, ''], '200, empty body');
  const file = parseAclJson(readFileSync(d.config.acl.file, 'utf8'));
  t.same('entries' in file && file.entries.map((e) => [e.uid, e.group, e.key.toString('hex')]).sort(),
    [[dev1.uid, dev1.group, dev1.key.toString('hex')], [dev2.uid, dev2.group, dev2.key.toString('hex')]], 'the file holds the new ACL');

  const close = await s1.nextOf(ToT.CLOSE);
  t.equal(close.code, CloseCode.MAINTENANCE, 'the removed object gets Close 0x01');
  await s1.whenClosed();
  t.equal(d.daemon.internals.sessions.get(st1.uid), undefined, 'its session is gone');
  t.ok(d.daemon.internals.sessions.get(dev1.uid)?.link, 'an unchanged object keeps its session');
  const o2 = await RawClient.open(d.port, dev2.uid, dev2.key);
  t.teardown(() => o2.client.close());
  t.ok(o2.accepted, 'the added object can authenticate');
});

t.test('a rejected ACL names the entries and applies nothing', async (t) => {
  const d = await startHttpDaemon(t, [dev1]);
  const before = readFileSync(d.config.acl.file, 'utf8');
  const r = await d.post('/acl', [entry(dev2), { ...entry(st1), GroupName: 'Nowhere' }, entry(dev2)]);
  t.same([r.status, r.json.error], [400, 'ERR_IOTS_ACL_REJECTED']);
  t.same(r.json.problems, [{ Index: 1, UID: st1.uid, Reason: 'unknown-group' }, { Index: 2, UID: dev2.uid, Reason: 'duplicate-uid' }], 'every problem, by entry');
  t.match(r.json.message, /entry 1 \(UID "st-1"\): unknown-group "Nowhere"; entry 2 \(UID "dev-2"\): duplicate-uid; the config's groups: "Devices", "Stations"/);
  t.equal(readFileSync(d.config.acl.file, 'utf8'), before, 'file unchanged');
  t.ok(d.daemon.internals.acl.current.get(dev1.uid) && !d.daemon.internals.acl.current.get(dev2.uid), 'live ACL unchanged');
  const empty = await d.post('/acl', []);
  t.equal(empty.status, 200, 'an empty ACL is a valid ACL');
  t.equal(d.daemon.internals.acl.current.size, 0);
});
