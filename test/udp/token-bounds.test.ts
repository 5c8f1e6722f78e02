import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Format, ToT, encodeDatagram, type Payload } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { UdpSender } from '../helpers/udp-sender.js';
import { until } from '../helpers/until.js';

// Tokens that never expire (telemetryTokenExpMin: 0): the case where every login used to add one for good.
const dev = device('sleeper-1', 'Sleepers');
const p = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });
const get = { method: 'GET' as const, contentType: null, auth: null };

async function setup(t: Test) {
  const clock = new ManualClock();
  const d = await startHttpDaemon(t, [dev], { clock, over: { udp: { enabled: true }, groups: { Sleepers: { telemetry: true, telemetryTokenExpMin: 0 } } } });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const metric = async (name: string) => {
    const m = await d.post('/metrics', undefined, get);
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m.text)?.[1]);
  };
  /** One login: the token it got (or none within a Ping round trip), and the open client. */
  const login = async () => {
    const c = (await RawClient.open(d.port, dev.uid, dev.key)).client;
    t.teardown(() => c.close());
    c.send({ type: ToT.PING });
    const first = await c.next();
    if (first.type === ToT.TOKEN) await c.nextOf(ToT.PONG);
    return { client: c, token: first.type === ToT.TOKEN ? first.token : undefined };
  };
  return { ...d, clock, central, metric, login };
}

t.test('logins never add tokens without bound: a UID keeps the current one and the one it replaced; /metrics shows the count', async (t) => {
  const { daemon, central, metric, login } = await setup(t);
  const udp = await UdpSender.open(t);
  const tokens: Buffer[] = [];
  for (let i = 0; i < 5; i++) {
    const { client, token } = await login();
    t.ok(token, `login ${i + 1} gets a token`);
    tokens.push(token!);
    client.close();
    await until(() => daemon.internals.sessions.get(dev.uid)?.state === 'kept', 'the session to be kept');
  }
  t.equal(await metric('iotsocket_telemetry_tokens'), 2, 'the gauge says two tokens, not five');
  for (const [i, token] of tokens.entries()) await udp.send(daemon.addresses!.udp!.port, encodeDatagram(token, p(`t${i}`)));
  const got: string[] = [];
  while (got.length < 2) got.push((await central.nextOf(ToT.TELEMETRY)).payload.data.toString());
  t.same(got, ['t3', 't4'], 'the last two tokens are valid');
  await until(async () => (await daemon.internals.metrics.value('iotsocket_telemetry_datagrams_total', { result: 'dropped', reason: 'unknown-token' })) === 3, 'the three freed tokens to be refused');
});

t.test('a full registry refuses a token (counted) rather than evict a live one; the object gets one once there is room', async (t) => {
  const { daemon, clock, metric, login, logs } = await setup(t);
  const { tokens } = daemon.internals;
  const before = (await login()).token!;
  // Fill the registry with live tokens of other UIDs: the bound is max(10 000, 3 × tcp.maxConnections).
  for (let i = 0; await tokens.issue(`filler-${i}`, 'Sleepers', 0, clock.now()); i++) if (i > 1e6) throw new Error('the registry never filled');
  const size = await tokens.size;
  const { client, token } = await login();
  t.equal(token, undefined, 'no ToT 5 at this login');
  t.equal(await metric('iotsocket_telemetry_tokens_refused_total'), 1, 'the refusal is counted');
  t.equal(logs.find('token-refused').length, 1, 'and logged');
  t.equal(await tokens.size, size, 'nothing evicted');
  t.ok(await tokens.lookup(before.toString('latin1'), clock.now()), 'the token the object already holds stays valid');
  await tokens.revoke('filler-0');
  clock.advance(60_000);
  const renewed = await client.nextOf(ToT.TOKEN);
  t.ok(await tokens.lookup(renewed.token.toString('latin1'), clock.now()), 'tried again a minute later: issued once there is room');
});
