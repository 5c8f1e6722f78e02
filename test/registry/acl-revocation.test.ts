import t, { type Test } from 'tap';
import { CloseCode, Format, ToT, encodeDatagram, type AclEntry } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device, type Device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

// An ACL replacement that changes an entry's key or group revokes it as a removal does:
// its session ends (Close 0x01) and its UDP tokens stop working; an unchanged entry's
// session and token go on. Over real sockets, via the central's ACL transmission and POST /acl.

const changed = device('dev-1');
const rekeyed: Device = { ...changed, key: Buffer.from(changed.key).fill(0x77, 8) };
const regrouped: Device = { ...rekeyed, group: 'Meters' };
const unchanged = device('dev-2');
const aclEntry = (d: Device): AclEntry => ({ uid: d.uid, group: d.group, key: d.key });

type Replace = (d: Awaited<ReturnType<typeof setup>>, devices: Device[]) => Promise<void>;

async function setup(t: Test) {
  const d = await startHttpDaemon(t, [changed, unchanged], {
    // Meters has telemetry like Devices: a move between them changes nothing but the group.
    over: { udp: { enabled: true }, groups: { Meters: { telemetry: true, telemetryTokenExpMin: 60 } } },
  });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const udp = await UdpSender.open(t);
  const udpPort = d.daemon.addresses!.udp!.port;
  /** Opens `dev`'s session and returns it with the token it is issued first. */
  const login = async (dev: Device) => {
    const r = await RawClient.open(d.port, dev.uid, dev.key);
    t.teardown(() => r.client.close());
    if (!r.accepted) throw new Error(`${dev.uid} (${dev.group}) refused`);
    const first = await r.client.next();
    if (first.type !== ToT.TOKEN) throw new Error(`${dev.uid}: expected its token first`);
    return { client: r.client, token: first.token };
  };
  /** Telemetry with `token`, then a marker with `marker`: what reached the central before the marker. */
  const probe = async (token: Buffer, marker: Buffer): Promise<string[]> => {
    const text = (s: string) => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
    await udp.send(udpPort, encodeDatagram(token, text('probe')));
    await udp.send(udpPort, encodeDatagram(marker, text('marker')));
    const got: string[] = [];
    for (;;) {
      const tm = await central.nextOf(ToT.TELEMETRY, 3000).catch((err: Error) => {
        throw new Error(`the marker datagram (a token expected valid) never reached the central: ${err.message}`);
      });
      if (tm.payload.data.toString() === 'marker') return got;
      got.push(tm.payload.data.toString());
    }
  };
  return { ...d, central, login, probe };
}

/** The session of `c` is ended by the replacement: Close 0x01, the socket closes, no session left. */
async function revoked(t: Test, d: Awaited<ReturnType<typeof setup>>, c: RawClient, what: string) {
  const close = await c.nextOf(ToT.CLOSE, 3000).catch((err: Error) => { throw new Error(`${what}: no Close (${err.message})`); });
  t.equal(close.code, CloseCode.MAINTENANCE, `${what}: Close 0x01`);
  await until(() => c.closed, `${what}: the connection to close`, 3000);
  await until(() => d.daemon.internals.sessions.get(changed.uid) === undefined, `${what}: the session to end`, 3000);
}

async function scenario(t: Test, replace: Replace) {
  const d = await setup(t);
  const first = await d.login(changed);
  const stays = await d.login(unchanged);

  await replace(d, [rekeyed, unchanged]);
  await revoked(t, d, first.client, 'new key');
  t.same(await d.probe(first.token, stays.token), [], 'new key: the old token is dropped');
  const old = await RawClient.open(d.port, changed.uid, changed.key);
  t.teardown(() => old.client.close());
  t.notOk(old.accepted, 'new key: the old key is refused');
  const second = await d.login(rekeyed);
  t.notOk(second.token.equals(first.token), 'new key: the new session has a new token');

  await replace(d, [regrouped, unchanged]);
  await revoked(t, d, second.client, 'new group');
  t.same(await d.probe(second.token, stays.token), [], 'new group: the token of the old session is dropped');
  const third = await d.login(regrouped);
  t.equal(d.daemon.internals.sessions.get(changed.uid)?.group, 'Meters', 'new group: the new session is in it');
  t.same(await d.probe(third.token, third.token), ['probe'], 'new group: its new token works');

  t.equal(await d.daemon.internals.metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'unknown-token' }), 2, 'both revoked tokens counted');
  t.notOk(stays.client.closed, 'the unchanged entry\'s connection is open');
  t.notOk(stays.client.received.some((x) => x.type === ToT.CLOSE), 'it got no Close');
  stays.client.send({ type: ToT.PING });
  t.equal((await stays.client.nextOf(ToT.PONG, 3000)).type, ToT.PONG, 'it still answers on the same connection');
  t.equal(d.daemon.internals.sessions.get(unchanged.uid)?.state, 'connected', 'its session went on');
  t.same(await d.probe(stays.token, stays.token), ['probe'], 'its token still works');
}

t.test('via the central\'s ACL transmission: a new key, then a new group, revoke; an unchanged entry stays', async (t) => {
  await scenario(t, async (d, devices) => d.central.send({ type: ToT.ACL, entries: devices.map(aclEntry) }));
});

t.test('via POST /acl: a new key, then a new group, revoke; an unchanged entry stays', async (t) => {
  await scenario(t, async (d, devices) => {
    const r = await d.post('/acl', devices.map((x) => ({ GroupName: x.group, UID: x.uid, AuthKey: x.key.toString('hex') })));
    t.equal(r.status, 200, `POST /acl answered 200 (${r.text})`);
  });
});
