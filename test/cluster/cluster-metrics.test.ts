import t from 'tap';
import { CentralClient, ObjectClient, ascii } from '../../src/client/index.js';
import { startCluster, type InProcessNode } from '../helpers/cluster.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

// Issue 12 §4: the per-node cluster metrics, read from GET /metrics of three real nodes on a real redis-server.

const devs = [device('cm-1'), device('cm-2'), device('cm-3')];
const redis = await RedisServer.start(t);

/** The value of one series in Prometheus text (`name{a="x"} 3`), or undefined when it is not listed. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

async function metrics(n: InProcessNode): Promise<string> {
  const r = await n.get('/metrics', { auth: null, contentType: null });
  if (r.status !== 200) throw new Error(`GET /metrics at ${n.id}: ${r.status}`);
  return r.text;
}

/** Until `name{labels}` at node `n` satisfies `ok`; the failure names the last value seen. */
async function untilSeries(n: InProcessNode, name: string, labels: Record<string, string>, ok: (v: number | undefined) => boolean, what: string, ms = 6_000): Promise<void> {
  let last: number | undefined;
  await until(async () => ok((last = series(await metrics(n), name, labels))), `${what} (at ${n.id}, ${name}${JSON.stringify(labels)})`, ms)
    .catch((err: Error) => { throw new Error(`${err.message}; last value ${last}`); });
}

t.test('nodes up, sessions per node, inbox, Redis round trip, cross-node requests, takeovers and drains, per node', async (t) => {
  const [a, b, c] = await startCluster(t, redis, ['a', 'b', 'c'], devs);
  for (const n of [a!, b!, c!]) await untilSeries(n, 'iotsocket_cluster_nodes_up', {}, (v) => v === 3, 'three live nodes');

  // Sessions per node, from each node's heartbeat (setSessions, then the next announce, then the reader's tick).
  const objects = [new ObjectClient({ host: '127.0.0.1', port: b!.tcp, uid: devs[0]!.uid, key: devs[0]!.key, handler: () => held })];
  let release!: () => void;
  const held = new Promise<{ code: number; payload: ReturnType<typeof ascii> }>((r) => { release = () => r({ code: 0, payload: ascii('late') }); });
  objects.push(new ObjectClient({ host: '127.0.0.1', port: b!.tcp, uid: devs[1]!.uid, key: devs[1]!.key }));
  objects.push(new ObjectClient({ host: '127.0.0.1', port: c!.tcp, uid: devs[2]!.uid, key: devs[2]!.key }));
  const central = new CentralClient({ host: '127.0.0.1', port: a!.tcp, key: CENTRAL_KEY });
  t.teardown(() => { release(); central.destroy(); for (const o of objects) o.destroy(); });
  await Promise.all([...objects.map((o) => o.connect()), central.connect()]);
  const expected = { a: 1, b: 2, c: 1 }; // the central counts as a session of a
  for (const [node, n] of Object.entries(expected)) await untilSeries(a!, 'iotsocket_cluster_node_sessions', { node }, (v) => v === n, `${node} to announce ${n} sessions`);
  await untilSeries(c!, 'iotsocket_cluster_node_sessions', { node: 'b' }, (v) => v === 2, 'every node sees the same load');

  // A cross-node request in flight: waiting at a, counted as a central-request out of a and into b.
  const pending = central.request(devs[0]!.uid, ascii('q'), { timeoutMs: 10_000 });
  await untilSeries(a!, 'iotsocket_cluster_remote_requests', {}, (v) => v === 1, 'the request waits at a for b');
  const text = await metrics(a!);
  t.equal(series(text, 'iotsocket_cluster_messages_total', { kind: 'central-request', way: 'out' }), 1, 'one central-request out of a');
  await untilSeries(b!, 'iotsocket_cluster_messages_total', { kind: 'central-request', way: 'in' }, (v) => v === 1, 'the central-request counted into b');
  release();
  t.equal((await pending).payload.data.toString(), 'late');
  await untilSeries(a!, 'iotsocket_cluster_remote_requests', {}, (v) => v === 0, 'answered: nothing waits');

  // Inbox and Redis round trip, at each node.
  for (const n of [a!, b!, c!]) {
    const m = await metrics(n);
    t.equal(series(m, 'iotsocket_cluster_inbox_depth'), 0, `${n.id}: nothing waits unread in its inbox`);
    t.equal(series(m, 'iotsocket_cluster_inbox_lag_seconds'), 0, `${n.id}: so no lag`);
    await untilSeries(n, 'iotsocket_cluster_redis_roundtrip_seconds_count', {}, (v) => (v ?? 0) >= 1, 'a heartbeat PING timed');
    const sum = series(await metrics(n), 'iotsocket_cluster_redis_roundtrip_seconds_sum')!;
    const count = series(await metrics(n), 'iotsocket_cluster_redis_roundtrip_seconds_count')!;
    t.ok(sum / count > 0 && sum / count < 0.5, `${n.id}: Redis round trip ${(1000 * sum / count).toFixed(2)} ms on average over ${count}`);
  }

  // The device on c drops off and resumes at a: a resume of a kept session, not a takeover.
  const again = new ObjectClient({ host: '127.0.0.1', port: a!.tcp, uid: devs[2]!.uid, key: devs[2]!.key, reconnect: false });
  objects.push(again);
  objects[2]!.destroy();
  await until(async () => (await a!.sessions()).find((s) => s.UID === devs[2]!.uid)?.State === 'kept', 'c keeps the session', 4_000);
  await again.connect();
  t.same([series(await metrics(a!), 'iotsocket_cluster_takeovers_total', { way: 'in' }), series(await metrics(c!), 'iotsocket_cluster_takeovers_total', { way: 'out' })], [0, 0],
    'a resume is not a takeover (test below: a live connection taken over)');

  // Drains: the hook h1's drain calls.
  t.equal(series(await metrics(b!), 'iotsocket_cluster_drains_total'), 0);
  b!.daemon.internals.metrics.cluster.countDrain();
  t.equal(series(await metrics(b!), 'iotsocket_cluster_drains_total'), 1);

  // A node that leaves is no longer listed.
  await c!.stop();
  await untilSeries(a!, 'iotsocket_cluster_nodes_up', {}, (v) => v === 2, 'c gone');
  await untilSeries(a!, 'iotsocket_cluster_node_sessions', { node: 'c' }, (v) => v === undefined, 'c no longer has a sessions series');
});

t.test('a takeover of a live connection counts in at the new node and out at the old one', async (t) => {
  const [a, b] = await startCluster(t, redis, ['ta', 'tb'], devs);
  const first = new ObjectClient({ host: '127.0.0.1', port: a!.tcp, uid: devs[0]!.uid, key: devs[0]!.key, reconnect: false });
  const second = new ObjectClient({ host: '127.0.0.1', port: b!.tcp, uid: devs[0]!.uid, key: devs[0]!.key, reconnect: false });
  t.teardown(() => { first.destroy(); second.destroy(); });
  await first.connect();
  const closed = new Promise<{ code?: number }>((r) => first.once('close', r));
  await second.connect();
  t.equal((await closed).code, 0xa1, 'Close 0xA1 at a');
  t.equal(series(await metrics(b!), 'iotsocket_cluster_takeovers_total', { way: 'in' }), 1, 'in at b');
  await untilSeries(a!, 'iotsocket_cluster_takeovers_total', { way: 'out' }, (v) => v === 1, 'out at a');
});

t.test('cluster.inbox: redis: while Redis is away the inbox gauges say NaN, not a stale 0; back, they read again', async (t) => {
  const [a] = await startCluster(t, redis, ['ra'], devs, { cluster: { inbox: 'redis' } });
  t.equal(series(await metrics(a!), 'iotsocket_cluster_inbox_depth'), 0);
  await redis.stop();
  let resumed = false;
  t.teardown(() => (resumed ? undefined : redis.resume()));
  const m = await metrics(a!);
  t.ok(Number.isNaN(series(m, 'iotsocket_cluster_inbox_depth')), 'depth NaN');
  t.ok(Number.isNaN(series(m, 'iotsocket_cluster_inbox_lag_seconds')), 'lag NaN');
  t.equal(series(m, 'iotsocket_cluster_up'), 0);
  await redis.resume();
  resumed = true;
  await untilSeries(a!, 'iotsocket_cluster_inbox_depth', {}, (v) => v === 0, 'read again once Redis is back', 15_000);
});
