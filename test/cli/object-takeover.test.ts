import t from 'tap';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';

ensureBuilt();

/** `p`, or a failure naming `what` after `ms` (real time: the simulator runs on the system clock). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

t.test('iotsocket object: taken over (Close 0xA1), it waits a takeover backoff (>= 500 ms), not the ~100 ms reconnect', async (t) => {
  const config = testConfig(t);
  const dev = device('sim-twin');
  const d = await startDaemon(t, config, [dev]);
  const sim = spawnCli(['object', '--connect', `127.0.0.1:${d.port}`, '--uid', dev.uid, '--key', dev.key.toString('hex')], { cwd: config.baseDir });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  await within(sim.waitForLog((l) => l.event === 'connected'), 10_000, 'connected line');
  const disconnected = sim.waitForLog((l) => l.event === 'disconnected');
  const reconnect = sim.waitForLog((l) => l.event === 'reconnect');
  const other = (await RawClient.open(d.port, dev.uid, dev.key)).client; // a second holder of the UID
  t.teardown(() => other.close());
  t.match(await within(disconnected, 5000, 'disconnected line'), { code: CloseCode.FREEING_RESOURCES, remote: true, willReconnect: true }, 'the simulator was told 0xA1');
  const r = await within(reconnect, 5000, 'reconnect line');
  t.equal(r.takenOver, true, 'the reconnect line says it follows a takeover');
  t.ok(Number(r.delayMs) >= 500 && Number(r.delayMs) <= 1000, `first takeover delay in [500, 1000] ms: ${r.delayMs}`);
  other.send({ type: ToT.PING });
  t.equal((await other.nextOf(ToT.PONG)).type, ToT.PONG, 'the newer holder keeps the session meanwhile');
});
