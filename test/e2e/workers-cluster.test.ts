import t from 'tap';
import type { AddressInfo } from 'node:net';
import { CentralClient, CloseCode, decodePayloadJson, json } from '../../src/client/index.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { withTimeout, type SessionRow } from '../helpers/cluster.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { call } from '../helpers/http.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';
import { WORKERS_READY_MS, alive, answeringObject, record, writeNodeDir } from '../helpers/workers.js';

ensureBuilt();

t.test('--workers 2: two nodes on one port; a SIGKILLed worker is restarted with its node id; SIGTERM stops all, exit 0', async (t) => {
  const redis = await RedisServer.start(t);
  const devices = Array.from({ length: 6 }, (_, i) => device(`wd-${i + 1}`));
  const dir = t.testdir({});
  writeNodeDir(dir, devices, redis);
  const run = spawnCli(['start', '-c', 'c.yaml', '--workers', '2'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const lines = record(run);
  const ready = await withTimeout(run.waitForLog((l) => l.event === 'workers-ready'), WORKERS_READY_MS, 'the primary\'s workers-ready line');
  const port = (ready.tcp as AddressInfo).port;
  const http = `http://127.0.0.1:${(ready.http as AddressInfo).port}`;
  const udpPort = (ready.udp as AddressInfo).port;
  t.same(ready.nodes, ['w-1', 'w-2'], 'the workers are nodes w-1 and w-2');
  const pidOf = (node: string) => [...lines].reverse().find((l) => l.event === 'worker-ready' && l.node === node)?.pid as number;
  const firstPids = [pidOf('w-1'), pidOf('w-2')];
  t.ok(firstPids.every((p) => typeof p === 'number' && p !== run.child.pid), `two worker processes besides the primary: ${firstPids.join(', ')}`);

  const sessions = async (): Promise<SessionRow[]> => {
    const r = await call(http, '/sessions?limit=1000', undefined, { method: 'GET', headers: { authorization: `Bearer ${CENTRAL_KEY.toString('hex')}` } });
    if (r.status !== 200) throw new Error(`GET /sessions: ${r.status} ${r.text}`);
    return r.json.sessions as SessionRow[];
  };
  const objects = new Map<string, ReturnType<typeof answeringObject>>();
  for (const dev of devices) {
    const o = answeringObject(t, port, dev, udpPort);
    await o.client.connect();
    objects.set(dev.uid, o);
  }
  let rows: SessionRow[] = [];
  await until(async () => (rows = await sessions()).filter((s) => s.Kind === 'object').length === devices.length, 'GET /sessions to list the 6 objects');
  const byNode = (rs: SessionRow[]) => [...new Set(rs.filter((s) => s.Kind === 'object').map((s) => s.Node))].sort();
  t.same(byNode(rows), ['w-1', 'w-2'], 'devices connecting to the one port landed on both nodes');

  const metrics = await call(http, '/metrics', undefined, { method: 'GET', auth: null });
  t.match(metrics.text, /^iotsocket_cluster_up\{node="w-[12]"\} 1$/m, 'a scrape of the shared port names the worker that answered (label node)');

  let central = new CentralClient({ host: '127.0.0.1', port, key: CENTRAL_KEY, reconnect: false });
  t.teardown(() => central.destroy());
  await central.connect();
  const askAll = async (what: string) => {
    for (const dev of devices) {
      const r = await central.request(dev.uid, json({ what }), { timeoutMs: 5000 });
      t.same([r.code, decodePayloadJson(r.payload)], [0, { uid: dev.uid, asked: { what } }], `${what}: ${dev.uid} answered the central`);
    }
  };
  await askAll('first');

  // UDP: the workers share one socket, whichever reads a datagram checks its token in Redis.
  const heard = new Set<string>();
  central.on('telemetry', (m: { uid: string; payload: Parameters<typeof decodePayloadJson>[0] }) => heard.add(`${m.uid}#${(decodePayloadJson(m.payload) as { n: number }).n}`));
  for (const [uid, o] of objects) {
    await withTimeout(o.token, 5000, `${uid}'s telemetry token`);
    for (let n = 0; n < 4; n++) await o.client.sendTelemetry(json({ n }));
  }
  await until(() => heard.size === devices.length * 4, `the central to hear 4 datagrams of each device (${heard.size} so far)`);
  t.equal(heard.size, devices.length * 4, 'every datagram sent to the one UDP port reached the central, whichever worker issued the token');

  // SIGKILL worker 2: the primary restarts it under the same node id.
  const onW2 = rows.filter((s) => s.Node === 'w-2' && s.Kind === 'object').map((s) => s.UID);
  process.kill(firstPids[1]!, 'SIGKILL');
  const died = await withTimeout(run.waitForLog((l) => l.event === 'worker-died'), 10_000, 'the primary\'s worker-died line');
  t.match(died, { worker: 2, node: 'w-2', signal: 'SIGKILL' }, 'the primary logs which worker died, and how');
  const back = await withTimeout(run.waitForLog((l) => l.event === 'worker-ready' && l.node === 'w-2'), 40_000, 'worker 2 to be ready again');
  t.not(back.pid, firstPids[1], `worker 2 restarted as a new process (pid ${back.pid})`);
  t.ok(alive(firstPids[0]!), 'worker 1 kept running');

  // Whatever held a connection to the dead worker reconnects (to the same one port) and is routable again.
  for (const uid of onW2) await withTimeout(objects.get(uid)!.closed, 5000, `${uid}'s connection to the dead worker to close`);
  if (!central.connected) {
    central = new CentralClient({ host: '127.0.0.1', port, key: CENTRAL_KEY, reconnect: false });
    t.teardown(() => central.destroy());
    await central.connect();
  }
  for (const uid of onW2) {
    const o = answeringObject(t, port, devices.find((d) => d.uid === uid)!);
    await o.client.connect();
    objects.set(uid, o);
  }
  await until(async () => (await sessions()).filter((s) => s.Kind === 'object' && s.State === 'connected').length === devices.length,
    'GET /sessions to list the 6 objects connected again', 10_000);
  await askAll('after the restart');

  // SIGHUP to the primary: every worker reloads its config.
  const reloaded = [1, 2].map((w) => run.waitForLog((l) => l.event === 'reloaded' && l.worker === w));
  run.child.kill('SIGHUP');
  await withTimeout(Promise.all(reloaded), 10_000, 'both workers to log "reloaded" after SIGHUP');

  // SIGTERM to the primary: every worker closes its sessions (0x01) and exits; the primary exits 0.
  run.child.kill('SIGTERM');
  const closes = await withTimeout(Promise.all([...objects.values()].map((o) => o.closed)), 10_000, 'every object to be closed');
  t.ok(closes.every((c) => c.code === CloseCode.MAINTENANCE), 'every object was told maintenance (Close 0x01)');
  const exit = await withTimeout(run.exited, 20_000, 'the primary to exit');
  t.same([exit.code, exit.signal], [0, null], 'the primary exits 0');
  const workerPids = lines.filter((l) => l.event === 'worker-ready').map((l) => l.pid as number);
  t.same(workerPids.filter(alive), [], `no worker process left (${workerPids.join(', ')})`);
  t.ok(lines.some((l) => l.event === 'session-started' && l.worker === 1) && lines.some((l) => l.event === 'session-started' && l.worker === 2),
    'the workers\' log lines name the worker');
});
