import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { device } from '../helpers/daemon.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('ban-1');
const get = { method: 'GET' as const, contentType: null };
const del = { method: 'DELETE' as const, contentType: null };

/** `n` authentications with a wrong key from 127.0.0.1, each over its own real connection. */
async function failAuth(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { client, accepted } = await RawClient.open(port, dev.uid, Buffer.alloc(16));
    client.close();
    if (accepted) throw new Error('a wrong key was accepted');
  }
}

/** True when the concentrator answers the initiation with OK=1. */
async function initiationAccepted(port: number): Promise<boolean> {
  try {
    const { client } = await RawClient.open(port, dev.uid, dev.key);
    client.close();
    return true;
  } catch (err) {
    if ((err as Error).message === 'initiation refused') return false;
    throw err;
  }
}

t.test('15 failed authentications ban 127.0.0.1: logged with until when, listed and lifted through the admin API', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const d = await startHttpDaemon(t, [dev], { clock });
  await failAuth(d.port, 15);
  const [banned] = d.logs.find('ip-banned');
  t.match(banned, { level: 40, ip: '127.0.0.1', until: '2026-01-01T00:05:00.000Z', seconds: 300 });
  t.match(banned!.msg, /^banned 127\.0\.0\.1 until 2026-01-01T00:05:00\.000Z: 15 failed authentications/, 'the line says banned, the address and until when');
  t.notOk(await initiationAccepted(d.port), 'the right key no longer helps: refused at initiation');

  t.equal((await d.post('/admin/bans', undefined, { ...get, auth: null })).status, 401, 'Bearer required to list');
  t.equal((await d.post('/admin/bans/127.0.0.1', undefined, { ...del, auth: null })).status, 401, 'Bearer required to lift');
  const list = await d.post('/admin/bans', undefined, get);
  t.same([list.status, list.json], [200, { bans: [{ IP: '127.0.0.1', Until: '2026-01-01T00:05:00.000Z' }] }]);

  const malformed = await d.post('/admin/bans/not-an-ip', undefined, del);
  t.same([malformed.status, malformed.json.error], [400, 'ERR_IOTS_HTTP_BAD_FIELD']);
  t.match(malformed.json.message, /^ip: "not-an-ip" is not an IPv4 or IPv6 address/);
  const other = await d.post('/admin/bans/192.0.2.1', undefined, del);
  t.same([other.status, other.json.message], [404, 'ip "192.0.2.1": not banned'], '404 names the ip');
  t.equal((await d.post('/admin/bans', undefined, { ...get, method: 'POST' })).status, 405);

  const lifted = await d.post('/admin/bans/127.0.0.1', undefined, del);
  t.equal(lifted.status, 204);
  t.match(d.logs.find('ban-lifted'), [{ ip: '127.0.0.1' }]);
  t.ok(await initiationAccepted(d.port), 'the device authenticates again');
  t.same((await d.post('/admin/bans', undefined, get)).json, { bans: [] });
  t.equal((await d.post('/admin/bans/127.0.0.1', undefined, del)).status, 404, 'lifting twice: not banned any more');
});

t.test('the simulator, banned, says it was refused at initiation and what that usually means', async (t) => {
  ensureBuilt();
  const d = await startHttpDaemon(t, [dev]);
  await failAuth(d.port, 15);
  const sim = await runCli(['object', '--connect', `127.0.0.1:${d.port}`, '--uid', dev.uid, '--key', dev.key.toString('hex')], { cwd: d.config.baseDir });
  t.not(sim.code, 0);
  t.match(sim.stderr, /^iotsocket object: refused at initiation \(OK=0\): this usually means the concentrator banned this IP/);
  t.match(sim.stderr, /DELETE \/admin\/bans\/\{ip\}/);
  t.match(sim.stderr, /or it is full or shutting down/);
});
