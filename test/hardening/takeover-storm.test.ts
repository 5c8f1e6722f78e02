import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ResponseCode, ToT, type Transmission } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon, type Device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { fdCount, size, sleep, until } from '../helpers/stress.js';

/** A device connection that answers every request at once, echoing its payload. */
async function responder(port: number, dev: Device, all: RawClient[]): Promise<RawClient> {
  const { client, accepted } = await RawClient.open(port, dev.uid, dev.key);
  if (!accepted) throw new Error('not accepted');
  all.push(client);
  const answer = (...ts: Transmission[]) => {
    for (const x of ts) {
      if (x.type === ToT.REQUEST && !client.socket.destroyed) client.send({ type: ToT.RESPONSE, tracking: x.tracking, code: ResponseCode.VALID, payload: x.payload });
    }
    return 0;
  };
  const early = client.received.splice(0); // what came in the same read as the accept byte
  (client.received as Transmission[]).push = answer;
  answer(...early);
  return client;
}

t.test('takeover storm: the same UIDs reconnect while requests flow; each request answered exactly once', async (t) => {
  const clock = new ManualClock();
  const uids = size(5, 50);
  const rounds = size(10, 100);
  const perRound = size(20, 40);
  const devs = Array.from({ length: uids }, (_, i) => device(`storm-${i}`, 'Stations'));
  const d = await startDaemon(t, testConfig(t, { tcp: { requestTimeoutSec: 30 }, limits: { acceptPerSec: 1e9 } }), devs, { clock, logLevel: 'warn' });
  const all: RawClient[] = [];
  t.teardown(() => { for (const c of all) c.close(); });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  all.push(central);
  for (const dev of devs) await responder(d.port, dev, all);
  await sleep(20);
  const fd0 = fdCount();
  const t0 = Date.now();

  const sent = new Map<string, string>(); // `${uid}/${tracking}` → payload
  const answers = new Map<string, Array<{ code: number; data: string }>>();
  let misrouted = 0;
  (central.received as Transmission[]).push = (...ts: Transmission[]) => {
    for (const x of ts) {
      if (x.type !== ToT.RESPONSE) continue;
      const k = `${x.uid}/${x.tracking}`;
      if (!sent.has(k)) misrouted++;
      answers.set(k, [...(answers.get(k) ?? []), { code: x.code, data: x.payload.data.toString() }]);
    }
    return 0;
  };
  const nextTracking = new Map<string, number>();
  let n = 0;
  const request = (dev: Device) => {
    const tr = nextTracking.get(dev.uid) ?? 0;
    nextTracking.set(dev.uid, tr + 1);
    const data = `${dev.uid}#${tr}#${n++}`;
    sent.set(`${dev.uid}/${tr}`, data);
    central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: tr, payload: { format: Format.ASCII, options: 0, data: Buffer.from(data) } });
  };

  for (let r = 0; r < rounds; r++) {
    const reconnects = devs.map((dev) => responder(d.port, dev, all));
    for (let i = 0; i < perRound; i++) {
      request(devs[(r * perRound + i) % uids]!);
      if (i % 5 === 4) await sleep(0);
    }
    await Promise.all(reconnects);
  }
  // Settle: what was answered arrives; what died with a replaced connection times out (0xA1).
  await until(() => answers.size === sent.size, 300);
  clock.advance(30_000);
  const settled = await until(() => answers.size === sent.size, 10_000);
  await sleep(50);

  const codes: Record<string, number> = {};
  let lost = 0;
  let duplicated = 0;
  let corrupted = 0;
  for (const [k, data] of sent) {
    const got = answers.get(k) ?? [];
    if (got.length === 0) lost++;
    if (got.length > 1) duplicated++;
    for (const g of got) {
      codes[`0x${g.code.toString(16)}`] = (codes[`0x${g.code.toString(16)}`] ?? 0) + 1;
      if (g.code === ResponseCode.VALID && g.data !== data) corrupted++;
    }
  }
  t.ok(settled, 'every request settled');
  t.equal(lost, 0, '0 lost');
  t.equal(duplicated, 0, '0 duplicated');
  t.equal(misrouted, 0, '0 responses for requests never sent');
  t.equal(corrupted, 0, 'every valid answer carries its own request payload');
  t.equal(d.daemon.internals.tracker.size, 0, 'nothing left tracked');
  for (const dev of devs) t.equal(d.daemon.internals.sessions.get(dev.uid)?.state, 'connected', `${dev.uid} connected on its newest connection`);
  const stormMs = Date.now() - t0;
  // Every replaced connection was closed by the daemon: only the newest per UID (and the central) remain.
  for (const c of all.slice(0, -uids)) if (c !== central) await until(() => c.closed, 2000);
  const fd1 = fdCount();
  t.ok(fd1 <= fd0 + 4, `fd count stable (${fd0} before, ${fd1} after)`);
  t.comment(`takeover storm: ${JSON.stringify({ uids, rounds, connections: uids * (rounds + 1), requests: sent.size, answers: codes, lost, duplicated, misrouted, fd0, fd1, ms: stormMs })}`);
});
