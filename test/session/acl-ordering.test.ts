import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { ToT, type AclEntry } from '../../src/protocol/index.js';
import type { AclWriter } from '../../src/registry/acl-store.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon, type Device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { testCerts } from '../helpers/certs.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

// Issue 10 §1: the protocol has no ACL acknowledgement, so the only order a central can rely on
// is its own session's: once any later transmission of it is answered, the new ACL is in force.

const ROUNDS = 200;
const asEntry = (d: Device): AclEntry => ({ uid: d.uid, group: d.group, key: d.key });

for (const tls of [false, true]) {
  t.test(`provision, ping, connect: ${ROUNDS} rounds over ${tls ? 'TLS' : 'plain TCP'}, 0 refusals`, async (t) => {
    const certs = tls ? await testCerts() : undefined;
    let config = testConfig(t);
    if (certs) {
      writeFileSync(join(config.baseDir, 'server.crt'), certs.cert);
      writeFileSync(join(config.baseDir, 'server.key'), certs.key);
      config = { ...config, tcp: { ...config.tcp, tls: { cert: join(config.baseDir, 'server.crt'), key: join(config.baseDir, 'server.key') } } };
    }
    const d = await startDaemon(t, config, []);
    const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
    t.teardown(() => central.close());
    const refused: number[] = [];
    const started = Date.now();
    for (let i = 0; i < ROUNDS && Date.now() - started < 60_000; i++) {
      const dev = device(`prov-${i}`);
      central.send({ type: ToT.ACL, entries: [asEntry(dev)] }, { type: ToT.PING });
      await central.nextOf(ToT.PONG);
      const o = await RawClient.open(d.port, dev.uid, dev.key, certs ? { tls: { ca: certs.cert } } : {});
      if (!o.accepted) refused.push(i);
      o.client.close();
    }
    t.same(refused, [], 'every just-provisioned object is accepted');
    t.equal(d.daemon.internals.acl.current.get(`prov-${ROUNDS - 1}`)?.group, 'Devices', `all ${ROUNDS} rounds ran`);
  });
}

/** A file writer held open by the test: nothing it is given is persisted until `release()`. */
class HeldWriter implements AclWriter {
  readonly written: AclEntry[][] = [];
  #pending: Array<{ entries: readonly AclEntry[]; resolve: () => void; reject: (e: Error) => void }> = [];
  get waiting(): number {
    return this.#pending.length;
  }
  write(entries: readonly AclEntry[]): Promise<void> {
    return new Promise((resolve, reject) => this.#pending.push({ entries, resolve, reject }));
  }
  release(): void {
    const p = this.#pending.shift()!;
    this.written.push([...p.entries]);
    p.resolve();
  }
  fail(): void {
    this.#pending.shift()!.reject(new Error('disk full (test)'));
  }
}

const oldDev = device('old-1');
const newDev = device('new-1');
const rekeyed = { ...oldDev, key: Buffer.alloc(16, 0x42) };

/** Starts an object's handshake up to its auth answer; resolves with the auth byte when it comes. */
async function authenticateLater(port: number, dev: Device): Promise<{ client: RawClient; accepted: Promise<boolean> }> {
  const c = await RawClient.connect(port);
  const { encodeInitiation } = await import('../../src/protocol/index.js');
  c.write(encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 }));
  await c.readAnswer();
  return { client: c, accepted: c.authenticate(dev.uid, dev.key) };
}

t.test('a slow ACL write: no handshake through early, none refused wrongly, the central\'s next answers wait', async (t) => {
  const writer = new HeldWriter();
  const d = await startDaemon(t, testConfig(t), [oldDev], { deps: { aclWriter: writer } });
  const host = d.daemon.internals.host;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());

  central.send({ type: ToT.ACL, entries: [asEntry(rekeyed), asEntry(newDev)] }, { type: ToT.PING });
  await until(() => writer.waiting === 1, 'the ACL write to start');

  const added = await authenticateLater(d.port, newDev);
  const oldKey = await authenticateLater(d.port, oldDev);
  const newKey = await authenticateLater(d.port, rekeyed);
  t.teardown(() => { added.client.close(); oldKey.client.close(); newKey.client.close(); });
  await until(() => host.handshakesAwaitingAcl === 3, 'three handshakes to wait for the ACL');
  t.same(central.received.filter((x) => x.type === ToT.PONG), [], 'no Pong while the ACL is not in force');
  t.notOk(d.daemon.internals.acl.current.get(newDev.uid), 'not enforced before it is persisted');

  writer.release();
  t.same(await Promise.all([added.accepted, oldKey.accepted, newKey.accepted]), [true, false, true],
    'after the commit: the added object in, the old key out, the new key in');
  await central.nextOf(ToT.PONG);
  t.same(writer.written.map((w) => w.map((e) => e.uid).sort()), [['new-1', 'old-1']], 'persisted once');
  t.equal(host.handshakesAwaitingAcl, 0);
});

t.test('a failed ACL write applies nothing; waiting handshakes are decided by the ACL in force', async (t) => {
  const writer = new HeldWriter();
  const d = await startDaemon(t, testConfig(t), [oldDev], { deps: { aclWriter: writer } });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  central.send({ type: ToT.ACL, entries: [asEntry(newDev)] }, { type: ToT.PING });
  await until(() => writer.waiting === 1, 'the ACL write to start');
  const added = await authenticateLater(d.port, newDev);
  const kept = await authenticateLater(d.port, oldDev);
  t.teardown(() => { added.client.close(); kept.client.close(); });
  await until(() => d.daemon.internals.host.handshakesAwaitingAcl === 2, 'two handshakes to wait');
  writer.fail();
  t.same(await Promise.all([added.accepted, kept.accepted]), [false, true], 'the old ACL still rules');
  await central.nextOf(ToT.PONG);
  t.ok(d.logs.find('acl-write-failed').length === 1, 'the failure is logged');
});

t.test('POST /acl answers 200 only once in force; TCP and HTTP replacements apply in the order received', async (t) => {
  const writer = new HeldWriter();
  const d = await startHttpDaemon(t, [oldDev], { deps: { aclWriter: writer } });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());

  central.send({ type: ToT.ACL, entries: [asEntry(newDev)] }); // first: TCP
  await until(() => writer.waiting === 1, 'the TCP ACL write to start');
  let answered = false;
  const post = d.post('/acl', [{ UID: oldDev.uid, GroupName: oldDev.group, AuthKey: oldDev.key.toString('hex') }]).then((r) => { answered = true; return r; });
  await until(() => d.daemon.internals.acl.queued === 2, 'the HTTP replacement to queue behind the TCP one');
  t.notOk(answered, 'no answer while the TCP replacement is still being written');
  writer.release();
  await until(() => writer.waiting === 1, 'the HTTP ACL write to start');
  t.ok(d.daemon.internals.acl.current.get(newDev.uid), 'the TCP replacement is in force first');
  t.notOk(answered, 'still no answer before its own write');
  writer.release();
  t.equal((await post).status, 200);
  const acl = d.daemon.internals.acl.current;
  t.same([acl.get(oldDev.uid)?.group, acl.get(newDev.uid)], ['Devices', undefined], 'the later (HTTP) replacement is the one in force');
  const o = await RawClient.open(d.port, oldDev.uid, oldDev.key);
  t.teardown(() => o.client.close());
  t.ok(o.accepted, 'in force for the handshake after the 200');
});

t.test('HTTP first, then the TCP central: still applied in the order received, and the central\'s next answer waits for both', async (t) => {
  const writer = new HeldWriter();
  const d = await startHttpDaemon(t, [oldDev], { deps: { aclWriter: writer } });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());

  const post = d.post('/acl', [{ UID: newDev.uid, GroupName: newDev.group, AuthKey: newDev.key.toString('hex') }]); // first: HTTP
  await until(() => writer.waiting === 1, 'the HTTP ACL write to start');
  central.send({ type: ToT.ACL, entries: [asEntry(oldDev)] }, { type: ToT.PING }); // then TCP, and a Ping
  await until(() => d.daemon.internals.acl.queued === 2, 'the TCP replacement to queue behind the HTTP one');
  writer.release();
  t.equal((await post).status, 200, 'the HTTP caller is answered once its ACL is in force');
  t.ok(d.daemon.internals.acl.current.get(newDev.uid), 'the HTTP replacement first');
  t.same(central.received.filter((x) => x.type === ToT.PONG), [], 'no Pong before the central\'s own ACL is in force');
  await until(() => writer.waiting === 1, 'the TCP ACL write to start');
  writer.release();
  await central.nextOf(ToT.PONG);
  const acl = d.daemon.internals.acl.current;
  t.same([acl.get(oldDev.uid)?.group, acl.get(newDev.uid)], ['Devices', undefined], 'the later (TCP) replacement is the one in force');
});

t.test('a handshake whose deadline passes while it waits for the ACL ends as a timeout, with no session', async (t) => {
  const writer = new HeldWriter();
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { tcp: { handshakeTimeoutSec: 5 } }), [], { deps: { aclWriter: writer }, clock });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  central.send({ type: ToT.ACL, entries: [asEntry(newDev)] });
  await until(() => writer.waiting === 1, 'the ACL write to start');
  const late = await authenticateLater(d.port, newDev);
  t.teardown(() => late.client.close());
  const outcome = late.accepted.then((ok) => (ok ? 'accepted' : 'refused'), () => 'closed without an answer');
  await until(() => d.daemon.internals.host.handshakesAwaitingAcl === 1, 'the handshake to wait for the ACL');
  clock.advance(5_000);
  await late.client.whenClosed();
  writer.release();
  await until(() => d.logs.find('handshake-refused').some((l) => l.reason === 'timeout'), 'the refusal to be logged as a timeout');
  t.equal(d.daemon.internals.sessions.get(newDev.uid), undefined, 'no session for a socket that is gone');
  // The refusal is logged at the deadline; the wait itself ends with the ACL write, and is not left counted.
  await until(() => d.daemon.internals.host.handshakesAwaitingAcl === 0, 'the ACL wait to end once the write is released');
  t.equal(await outcome, 'closed without an answer');
});
