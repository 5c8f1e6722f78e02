import t, { type Test } from 'tap';
import { ManualClock } from '../../src/clock.js';
import { ToT, type Transmission } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

// tcp.pingIdleSec (PROTOCOL §5: the concentrator may ping idle sessions to detect dead peers): a
// session silent for pingIdleSec is pinged; one still silent after that is dropped — and kept
// (PROTOCOL §6: an unexpected disconnect), so the device resumes it. The connection's timers run
// on the daemon's clock: a ManualClock moves time, nothing sleeps.

const station = device('ping-1', 'Stations'); // no telemetry: no token among what it receives
const IDLE_SEC = 30;

async function setup(t: Test) {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { tcp: { pingIdleSec: IDLE_SEC } }), [station], { clock });
  const { client } = await RawClient.open(d.port, station.uid, station.key);
  t.teardown(() => client.close());
  await until(() => d.daemon.internals.sessions.get(station.uid)?.state === 'connected', 'the session attached');
  return { clock, d, client };
}

/** What the daemon sent since the last call, once it had a moment to write it. */
async function sentNow(client: RawClient): Promise<Transmission[]> {
  await new Promise((r) => setTimeout(r, 50));
  return client.received.splice(0);
}

/** Traffic from the device: a Ping, and the daemon's Pong back (so the daemon has read it). */
async function speak(client: RawClient): Promise<void> {
  client.send({ type: ToT.PING });
  await client.nextOf(ToT.PONG);
}

t.test('a silent session is pinged after pingIdleSec, not before; a Pong keeps it', async (t) => {
  const { clock, client, d } = await setup(t);
  clock.advance(IDLE_SEC * 1000 - 1);
  t.same(await sentNow(client), [], 'nothing before pingIdleSec of silence');
  clock.advance(1);
  t.same((await sentNow(client)).map((x) => x.type), [ToT.PING], 'a Ping at pingIdleSec');
  client.send({ type: ToT.PONG });
  await speak(client); // the Pong is read before the clock moves on
  clock.advance(IDLE_SEC * 1000 - 1);
  t.same(await sentNow(client), [], 'answered: not dropped, and not pinged again within pingIdleSec of the answer');
  clock.advance(1);
  t.same((await sentNow(client)).map((x) => x.type), [ToT.PING], 'pinged again once silent for pingIdleSec');
  await speak(client);
  t.notOk(client.closed, 'still connected');
  t.equal(d.daemon.internals.sessions.get(station.uid)?.state, 'connected');
});

t.test('traffic from the device counts: no Ping while it speaks', async (t) => {
  const { clock, client } = await setup(t);
  for (let i = 0; i < 4; i++) {
    clock.advance(IDLE_SEC * 1000 * 0.6);
    await speak(client);
  }
  t.same(await sentNow(client), [], `no Ping over ${2.4 * IDLE_SEC} s of traffic every ${0.6 * IDLE_SEC} s`);
});

t.test('a Ping left unanswered: the connection is dropped after another pingIdleSec, and the session kept', async (t) => {
  const { clock, client, d } = await setup(t);
  clock.advance(IDLE_SEC * 1000);
  t.same((await sentNow(client)).map((x) => x.type), [ToT.PING], 'pinged');
  clock.advance(IDLE_SEC * 1000 - 1);
  await sentNow(client);
  t.notOk(client.closed, 'not dropped before another pingIdleSec');
  clock.advance(1);
  await client.whenClosed(2_000);
  t.pass('dropped once silent for twice pingIdleSec');
  await until(() => d.daemon.internals.sessions.get(station.uid)?.state === 'kept', 'the session kept (an unexpected disconnect, PROTOCOL §6)');
  const again = (await RawClient.open(d.port, station.uid, station.key)).client;
  t.teardown(() => again.close());
  await until(() => d.daemon.internals.sessions.get(station.uid)?.state === 'connected', 'resumed by the device');
});

t.test('pingIdleSec 0: never pinged, never dropped for silence', async (t) => {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { tcp: { pingIdleSec: 0 } }), [station], { clock });
  const { client } = await RawClient.open(d.port, station.uid, station.key);
  t.teardown(() => client.close());
  clock.advance(3600_000);
  t.same(await sentNow(client), [], 'nothing sent in an hour of silence');
  t.notOk(client.closed);
});
