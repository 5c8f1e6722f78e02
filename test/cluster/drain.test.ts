import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { CentralClient, ClientErrorCode, ObjectClient, ascii, openSession } from '../../src/client/index.js';
import { main } from '../../src/cli/main.js';
import { ExitCode, type CliIo } from '../../src/cli/io.js';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { InProcessNode, startCluster } from '../helpers/cluster.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const redis = await RedisServer.start(t);
const BEARER = { headers: { authorization: `Bearer ${CENTRAL_KEY.toString('hex')}` } };
let prefixes = 0;
/** Each test its own key prefix: its nodes never see another test's. */
const fresh = (over: Record<string, any> = {}) => ({ ...over, cluster: { keyPrefix: `dr${++prefixes}:`, ...over.cluster } });

/** An object client that answers with its own name and reconnects quickly (a drain's Close 0x01 sends it away). */
function client(t: Test, node: InProcessNode, uid: string, key: Buffer, reconnect = true): ObjectClient {
  const c = new ObjectClient({
    host: '127.0.0.1', port: node.tcp, uid, key, reconnect: reconnect && { minMs: 20, maxMs: 200 },
    handler: (req) => ({ code: 0, payload: ascii(`${uid}:${req.payload.data.toString()}`) }),
  });
  c.on('error', () => {});
  t.teardown(() => c.destroy());
  return c;
}

/** Until `node`'s view of the peers shows each of `loads` (node → sessions). */
async function untilSeen(node: InProcessNode, loads: Record<string, number>, what: string): Promise<void> {
  await until(() => Object.entries(loads).every(([id, n]) => node.daemon.internals.placement!.peers.find((p) => p.node === id)?.sessions === n),
    `${node.id} to see ${what} (${JSON.stringify(loads)}; sees ${JSON.stringify(node.daemon.internals.placement!.peers.map((p) => [p.node, p.sessions, p.draining]))})`, 8000);
}

/** `iotsocket drain …` in this process. */
async function cliDrain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => void (out += s), err: (s) => void (err += s), env: {}, cwd: process.cwd(), signals: new EventEmitter() as unknown as CliIo['signals'], exit: () => {} };
  const code = await main(['node', 'iotsocket', 'drain', ...args], io);
  return { code, out, err };
}

t.test('a drained node ends with 0 sessions, its devices resumed on the others; a request buffered meanwhile is delivered after the move', async (t) => {
  const devs = Array.from({ length: 20 }, (_, i) => device(`drain-${i}`));
  const late = device('drain-late');
  const [a, b, c] = await startCluster(t, redis, ['a', 'b', 'c'], [...devs, late], fresh());
  const central = new CentralClient({ host: '127.0.0.1', port: b!.tcp, key: CENTRAL_KEY });
  t.teardown(() => central.destroy());
  await central.connect();
  const objects = devs.map((d) => client(t, a!, d.uid, d.key));
  await Promise.all(objects.map((o) => o.connect()));
  // One device without automatic reconnects: the test decides when it comes back.
  const lateClient = client(t, a!, late.uid, late.key, false);
  await lateClient.connect();
  t.equal(a!.daemon.internals.sessions.store.size, 21, 'a holds all 21');
  const closed = new Promise<{ code?: number; remote: boolean }>((r) => lateClient.once('close', r));

  const drained = await cliDrain(['--url', a!.httpBase, '--key', CENTRAL_KEY.toString('hex'), '--rate', '200', '--wait', '--timeout', '20']);
  t.equal(drained.code, ExitCode.OK, `iotsocket drain --wait exits 0 (${drained.err})`);
  t.match(JSON.parse(drained.out.trim().split('\n').at(-1)!), { draining: true, sessionsLeft: 0, done: true, moved: 21, rate: 200 }, 'its last line: done');
  t.equal(a!.daemon.internals.sessions.store.size, 0, 'a holds no session');
  t.match(await closed, { code: 0x01, remote: true }, 'each device was told Close 0x01');

  const dir = a!.daemon.internals.fleet!.engines.directory;
  t.match(await dir.lookup(late.uid), { state: 'kept' }, 'the session closed 0x01 by the drain is kept, not ended');
  const answer = central.request(late.uid, ascii('while away'));
  await until(async () => (await a!.daemon.internals.fleet!.engines.buffers.stats(late.uid)).count === 1, 'the request buffered for the kept session');
  const back = new Promise<{ host: string; port: number }>((r) => lateClient.once('connected', r));
  await lateClient.connect(); // to a, its configured address: redirected
  t.not((await back).port, a!.tcp, 'the device was redirected away from the draining node');
  const res = await answer;
  t.same([res.code, res.payload.data.toString()], [0, `${late.uid}:while away`], 'the buffered request is answered by the device after the move');

  await until(async () => {
    for (const d of devs) {
      const e = await dir.lookup(d.uid);
      if (e?.state !== 'connected' || e.node === 'a') return false;
    }
    return true;
  }, 'all 20 devices connected again, none on a');
  const spread = { b: b!.daemon.internals.sessions.store.size, c: c!.daemon.internals.sessions.store.size };
  t.equal(spread.b + spread.c, 21 + 1, `every device (and the central) on b or c: ${JSON.stringify(spread)}`);
  const answers = await Promise.all(devs.map((d) => central.request(d.uid, ascii('after'))));
  t.same(answers.map((r) => r.payload.data.toString()), devs.map((d) => `${d.uid}:after`), 'each answers from its new node');

  const status = await a!.get('/admin/drain', BEARER);
  t.match([status.status, status.json], [200, { draining: true, sessionsLeft: 0, moved: 21, done: true }]);
  t.equal((await a!.get('/readyz')).status, 503, 'a draining node is not ready');
  t.equal(await a!.metric('iotsocket_cluster_drains_total'), 1);
  t.equal(await a!.metric('iotsocket_cluster_drained_sessions_total'), 21);
  t.equal(await a!.metric('iotsocket_cluster_draining'), 1);
  t.ok(await a!.metric('iotsocket_cluster_redirects_total', { reason: 'draining' }) >= 21, 'each reconnect redirected');
});

t.test('a request the device received before its Close 0x01 is still answered through the drained node, which ends the connection only after the device', async (t) => {
  const dev = device('drain-inflight');
  const [a, b] = await startCluster(t, redis, ['a', 'b'], [dev], fresh());
  const central = new CentralClient({ host: '127.0.0.1', port: b!.tcp, key: CENTRAL_KEY });
  t.teardown(() => central.destroy());
  await central.connect();
  const raw = await a!.object(dev); // a device that takes its time: it answers after the Close
  const answer = central.request(dev.uid, ascii('q'));
  const req = await raw.nextOf(ToT.REQUEST);
  t.equal((await a!.post('/admin/drain?rate=1000', undefined, BEARER)).status, 202);
  t.match(await raw.nextOf(ToT.CLOSE), { code: CloseCode.MAINTENANCE }, 'the device is told Close 0x01');
  raw.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: ascii('late but owed') });
  const res = await answer;
  t.same([res.code, res.payload.data.toString()], [0, 'late but owed'], 'answered by the device (not 0xA1 at the timeout)');
  t.notOk(raw.socket.readableEnded, 'the node has not ended the connection while the device may still answer');
  raw.socket.end();
  await raw.whenClosed(3000); // then the node ends its side too
  t.match(await a!.daemon.internals.fleet!.engines.directory.lookup(dev.uid), { state: 'kept' }, 'kept for the device to resume elsewhere');
});

t.test('the drain rate is held: 30 sessions at 20/s take about 1.5 s, not one burst', async (t) => {
  const devs = Array.from({ length: 30 }, (_, i) => device(`rate-${i}`));
  const [a] = await startCluster(t, redis, ['a', 'b'], devs, fresh());
  await Promise.all(devs.map((d) => client(t, a!, d.uid, d.key).connect()));
  const started = Date.now();
  const r = await a!.post('/admin/drain?rate=20', undefined, BEARER);
  t.match([r.status, r.json], [202, { draining: true, rate: 20 }]);
  await until(() => a!.daemon.internals.sessions.store.size <= 20, '10 handed off', 5000);
  const tenAfter = Date.now() - started;
  t.ok(tenAfter >= 350, `10 sessions at 20/s took ${tenAfter} ms (>= 350)`);
  await until(() => a!.daemon.internals.sessions.store.size === 0, 'all handed off', 8000);
  t.ok(Date.now() - started >= 1200, `30 at 20/s took ${Date.now() - started} ms (>= 1200)`);
});

t.test('admin: bad rate 400 naming the field, no Bearer 401, cancel takes sessions again; a draining node with no other node refuses (OK=0, no rule)', async (t) => {
  const dev = device('solo-drain');
  const [a] = await startCluster(t, redis, ['a'], [dev], fresh());
  for (const bad of ['0', '-3', 'fast', '1e9']) {
    const r = await a!.post(`/admin/drain?rate=${bad}`, undefined, BEARER);
    t.match([r.status, r.json], [400, { error: 'ERR_IOTS_HTTP_BAD_FIELD', message: /^rate: must be a number of sessions per second/ }], bad);
  }
  t.equal((await a!.post('/admin/drain', undefined, { auth: null })).status, 401, 'no Bearer');
  t.match((await a!.get('/admin/drain', BEARER)).json, { draining: false, done: false });
  t.equal((await a!.post('/admin/drain', undefined, BEARER)).status, 202);
  await t.rejects(openSession({ host: '127.0.0.1', port: a!.tcp, uid: dev.uid, key: dev.key }), { code: ClientErrorCode.REFUSED }, 'no node to send it to: refused');
  t.equal(await a!.metric('iotsocket_cluster_redirects_total', { reason: 'draining-no-target' }), 1);
  const cancelled = await a!.post('/admin/drain', undefined, { ...BEARER, method: 'DELETE' });
  t.match([cancelled.status, cancelled.json], [200, { draining: false }]);
  const s = await openSession({ host: '127.0.0.1', port: a!.tcp, uid: dev.uid, key: dev.key });
  t.teardown(() => s.socket.destroy());
  t.equal(s.port, a!.tcp, 'accepted again after the cancel');
  const cli = await cliDrain(['--url', a!.httpBase, '--key', CENTRAL_KEY.toString('hex'), '--status']);
  t.match([cli.code, JSON.parse(cli.out)], [ExitCode.OK, { draining: false }], 'iotsocket drain --status');
  const wrongKey = await cliDrain(['--url', a!.httpBase, '--key', 'ff'.repeat(16)]);
  t.match([wrongKey.code, wrongKey.err], [ExitCode.RUNTIME, /HTTP 401/]);
});

t.test('rebalance: a node above threshold × mean and the floor sends new devices to the least loaded node, never to a draining one', async (t) => {
  const devs = Array.from({ length: 8 }, (_, i) => device(`rb-${i}`));
  const [a, b, c] = await startCluster(t, redis, ['a', 'b', 'c'], devs, fresh({ cluster: { rebalance: { enabled: true, threshold: 1.1, floor: 2 } } }));
  for (const d of devs.slice(0, 2)) await client(t, b!, d.uid, d.key).connect();
  await untilSeen(a!, { b: 2, c: 0 }, 'b with 2 sessions');
  const landed: number[] = [];
  for (const d of devs.slice(2, 5)) {
    const o = client(t, a!, d.uid, d.key, false);
    const at = new Promise<{ port: number }>((r) => o.once('connected', r));
    await o.connect();
    landed.push((await at).port);
  }
  t.same(landed, [a!.tcp, a!.tcp, a!.tcp], 'up to the floor and below threshold × mean (3 > 2 but mean 5/3 × 1.1 = 1.83 < 3 only from the 4th): a takes them');
  t.equal(a!.daemon.internals.sessions.store.size, 3);
  const next = client(t, a!, devs[5]!.uid, devs[5]!.key, false);
  const at = new Promise<{ port: number }>((r) => next.once('connected', r));
  await next.connect();
  t.equal((await at).port, c!.tcp, 'a holds 3 > 1.1 × mean and > floor: the next goes to c, the least loaded (not b with 2)');
  t.equal(await a!.metric('iotsocket_cluster_redirects_total', { reason: 'rebalance' }), 1);

  await c!.post('/admin/drain', undefined, BEARER);
  await until(() => a!.daemon.internals.placement!.peers.find((p) => p.node === 'c')?.draining === true, 'a to see c draining');
  const last = client(t, a!, devs[6]!.uid, devs[6]!.key, false);
  const lastAt = new Promise<{ port: number }>((r) => last.once('connected', r));
  await last.connect();
  t.equal((await lastAt).port, b!.tcp, 'c drains: the next one goes to b');
});

t.test('a redirect loop between two nodes is refused by the SDK (TOO_MANY_REDIRECTS), naming both hops', async (t) => {
  const dev = device('loop-1');
  const [a] = await startCluster(t, redis, ['a'], [dev], fresh());
  // b is full (tcp.maxConnections 1, two idle connections held) and sends the overflow to a; a drains and sends to b.
  const b = await InProcessNode.start(t, redis, 'b', [dev], { ...fresh(), cluster: { keyPrefix: a!.config.cluster!.keyPrefix }, tcp: { maxConnections: 1, redirect: { host: '127.0.0.1', port: a!.tcp } } });
  await untilSeen(a!, { b: 0 }, 'b live');
  const { connect } = await import('node:net');
  const idle = [connect(b.tcp, '127.0.0.1'), connect(b.tcp, '127.0.0.1')];
  t.teardown(() => idle.forEach((s) => s.destroy()));
  await until(() => b.daemon.internals.host.connectionCount === 2, 'b holding two connections');
  t.equal((await a!.post('/admin/drain', undefined, BEARER)).status, 202);
  const err = await openSession({ host: '127.0.0.1', port: a!.tcp, uid: dev.uid, key: dev.key }).catch((e: unknown) => e);
  t.match(err, { code: ClientErrorCode.TOO_MANY_REDIRECTS, redirect: { host: '127.0.0.1', port: a!.tcp } });
  t.match((err as Error).message, new RegExp(`redirected again by 127\\.0\\.0\\.1:${b.tcp} to 127\\.0\\.0\\.1:${a!.tcp}`));
});
