import t, { type Test } from 'tap';
import { createServer, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ManualClock, systemClock } from '../../src/clock.js';
import type { ClusterEngines, EngineReachability } from '../../src/cluster/engines.js';
import { openRedisEngines, OPEN_BOUND_MIN_MS } from '../../src/cluster/redis-engines.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { ErrorCode, IotsError } from '../../src/errors.js';
import { tokenKey } from '../../src/registry/token-registry.js';
import { testCerts } from '../helpers/certs.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const server = await RedisServer.start(t);
const INFO = { kind: 'object', group: 'Devices', peer: '127.0.0.1:1', tls: false, maxTransmissionLength: 0 } as const;

function cluster(over: Partial<ClusterConfig> & { nodeId: string }): ClusterConfig {
  return { redis: server.url, keyPrefix: 'iots-test:', commandTimeoutMs: 500, heartbeatSec: 1, leaseSec: 3, ...over };
}

/** A logger whose lines the test reads back as objects. */
function logSink(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function open(t: Test, c: ClusterConfig, log = pino({ level: 'silent' })): Promise<ClusterEngines> {
  const e = await openRedisEngines(c, { clock: systemClock, log });
  t.teardown(() => e.close());
  return e;
}

async function ourClients(): Promise<string[]> {
  const probe = server.client(t);
  const list = await probe.client('LIST') as string;
  probe.disconnect();
  return [...list.matchAll(/name=(iotsocket:\S+)/g)].map((m) => m[1]!).sort();
}

/** Starts `e`'s inbox and announces the node, as the fleet does: direct links find each other through the registry. */
async function joinCluster(t: Test, e: ClusterEngines, handler: (batch: Buffer[]) => void): Promise<void> {
  await e.inbox.start(handler);
  const link = e.inbox.link;
  await e.registry.start({ address: '127.0.0.1:1', sessions: 0, protocol: 1, ...(link && { link }) });
  t.teardown(() => e.registry.stop());
}

for (const inbox of ['direct', 'redis'] as const) t.test(`opens on Redis, and every port works across two nodes of one cluster (inbox: ${inbox})`, async (t) => {
  const prefix = `ports-${inbox}:`;
  const a = await open(t, cluster({ nodeId: 'a', keyPrefix: prefix, inbox }));
  const b = await open(t, cluster({ nodeId: 'b', keyPrefix: prefix, inbox }));
  t.same([a.node, b.node, a.reachability, a.describe], ['a', 'b', 'reachable', server.url]);
  const conns = inbox === 'redis' ? ['cmd', 'inbox', 'sub'] : ['cmd', 'sub'];
  t.same(await ourClients(), ['a', 'b'].flatMap((n) => conns.map((c) => `iotsocket:${n}:${c}`)), `connections: ${conns.join(', ')}`);

  const { claim } = await a.directory.claim('dev-1', INFO, 1000);
  t.match(await b.directory.lookup('dev-1'), { uid: 'dev-1', node: 'a', claim, state: 'connected' }, 'a claim at A is seen at B');

  const got: Buffer[][] = [];
  await joinCluster(t, b, (batch) => got.push(batch));
  a.inbox.post('b', Buffer.from('hello b'));
  await a.inbox.flush();
  await until(() => got.length > 0, 'the message at B');
  t.same(got, [[Buffer.from('hello b')]], 'an inbox message from A to B');

  t.equal(await a.buffers.append('dev-2', { bytes: Buffer.from('kept') }, { maxCount: 10, maxBytes: 100, ttlMs: 60_000 }), undefined);
  t.same(await b.buffers.take('dev-2'), [{ bytes: Buffer.from('kept') }], 'buffered at A, taken at B');

  let changes = 0;
  const unwatch = b.acl.watch(() => changes++);
  t.teardown(unwatch);
  await until(async () => Number((await server.client(t).pubsub('NUMSUB', `${prefix}acl-changed`))[1]) > 0, 'B subscribed to ACL notices');
  const version = await a.acl.replace([{ uid: 'dev-1', group: 'Devices', key: Buffer.alloc(16, 1) }]);
  t.match(await b.acl.read(), { version, entries: [{ uid: 'dev-1', group: 'Devices' }] }, 'an ACL written at A is read at B');
  await until(() => changes > 0, 'the ACL notice at B');

  await (b.tokens as unknown as { subscribed: Promise<void> }).subscribed;
  const issued = await a.tokens.issue('dev-1', 'Devices', 60_000, systemClock.now());
  t.match(await b.tokens.lookup(tokenKey(issued!.token), systemClock.now()), { uid: 'dev-1', group: 'Devices' }, 'a token issued at A is valid at B');
  t.equal(await a.tokens.revoke('dev-1'), 1);
  await until(async () => (await b.tokens.lookup(tokenKey(issued!.token), systemClock.now())) === undefined, 'the revocation at B');

  await a.registry.start({ address: '127.0.0.1:1', sessions: 0, protocol: 1 });
  t.equal(a.registry.state, 'live');
  t.match((await b.registry.live()).find((n) => n.node === 'a'), { node: 'a', address: '127.0.0.1:1' }, 'B sees A live');
  const ttl = await server.client(t).pttl(`${prefix}node:{a}:lease`);
  t.ok(ttl > 0 && ttl <= 3000, `the lease is leaseSec long (${ttl} ms)`);
  await a.close();
  t.same((await b.registry.live()).map((n) => n.node), ['b'], 'a graceful close leaves the cluster');
});

t.test('a refused password fails the start at once, naming cluster.redis and the URL with its password hidden', async (t) => {
  const guarded = await RedisServer.start(t, { password: 'right-one' });
  const base = { nodeId: 'p', redis: guarded.url };
  for (const [what, c] of [
    ['no password', cluster(base)],
    ['a wrong password in the URL', cluster({ ...base, redis: `redis://:wrong-one@127.0.0.1:${guarded.port}` })],
    ['a wrong password from passwordFile', cluster({ ...base, password: 'wrong-one' })],
  ] as const) {
    const started = performance.now();
    const err = await openRedisEngines(c, { clock: systemClock, log: pino({ level: 'silent' }) }).catch((e: unknown) => e);
    const ms = performance.now() - started;
    t.ok(err instanceof IotsError, what);
    t.equal((err as IotsError).code, ErrorCode.CLUSTER_REDIS, what);
    t.match((err as Error).message, /^cluster\.redis: redis:\/\/(:\*\*\*@)?127\.0\.0\.1:\d+ refused the credentials \((NOAUTH|WRONGPASS)/, what);
    t.notMatch((err as Error).message, /wrong-one|right-one/, `${what}: no password in the message`);
    t.ok(ms < OPEN_BOUND_MIN_MS, `${what}: refused in ${ms.toFixed(0)} ms, without waiting for the bound`);
  }
  const ok = await open(t, cluster({ ...base, redis: `redis://:wrong-one@127.0.0.1:${guarded.port}`, password: 'right-one' }));
  t.equal(ok.describe, `redis://:***@127.0.0.1:${guarded.port}`, 'described with the password hidden');
  t.match(await ok.directory.claim('dev-1', INFO, 0), { claim: /^p\./ }, 'passwordFile replaces the URL\'s password');
});

t.test('Redis down at start, or mute: the start fails within its bound with the reason, and leaves nothing open', async (t) => {
  const gone = await RedisServer.start(t);
  await gone.stop();
  const started = performance.now();
  const err = await openRedisEngines(cluster({ nodeId: 'd', redis: gone.url, commandTimeoutMs: 50 }), { clock: systemClock, log: pino({ level: 'silent' }) })
    .catch((e: unknown) => e);
  const ms = performance.now() - started;
  t.equal((err as IotsError).code, ErrorCode.CLUSTER_REDIS);
  t.match((err as Error).message, new RegExp(`^cluster\\.redis: cannot reach redis://127\\.0\\.0\\.1:${gone.port} within 3000 ms \\(.*ECONNREFUSED`));
  t.ok(ms >= OPEN_BOUND_MIN_MS - 50 && ms < OPEN_BOUND_MIN_MS + 1000, `gave up after ${ms.toFixed(0)} ms (bound 3000)`);

  // A listener that reads and never answers: a hung Redis.
  const sockets = new Set<Socket>();
  const mute = createServer((s) => { sockets.add(s); s.resume(); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => { for (const s of sockets) s.destroy(); mute.close(r); }));
  const port = (mute.address() as { port: number }).port;
  const started2 = performance.now();
  const hung = await openRedisEngines(cluster({ nodeId: 'h', redis: `redis://:pw@127.0.0.1:${port}`, commandTimeoutMs: 1500 }), { clock: systemClock, log: pino({ level: 'silent' }) })
    .catch((e: unknown) => e);
  const ms2 = performance.now() - started2;
  t.match((hung as Error).message, new RegExp(`^cluster\\.redis: cannot reach redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} within 4500 ms`), 'bound: 3 command timeouts');
  t.ok(ms2 < 4500 + 1500, `gave up after ${ms2.toFixed(0)} ms (then closed its sockets)`);
  await until(() => sockets.size === 0, 'every connection to the mute server closed');
});

t.test('reachability: unreachable when Redis stops, reachable again by itself when it returns', async (t) => {
  const flaky = await RedisServer.start(t);
  const sink = logSink();
  const e = await open(t, cluster({ nodeId: 'r', redis: flaky.url }), sink.log);
  const seen: EngineReachability[] = [];
  e.onReachability((r) => seen.push(r));
  t.equal(e.reachability, 'reachable');
  await flaky.stop();
  await until(() => e.reachability === 'unreachable', 'unreachable after the stop');
  const t0 = performance.now();
  const refused = await e.directory.lookup('dev-1').catch((err: unknown) => err);
  t.ok(refused instanceof Error, 'a command is refused while Redis is away');
  t.ok(performance.now() - t0 < 600, 'at once, not after a hang');
  await flaky.resume();
  await until(() => e.reachability === 'reachable', 'reachable after the restart', 10_000);
  t.same(seen, ['unreachable', 'reachable'], 'each change heard once');
  t.equal(await e.directory.lookup('dev-1'), undefined, 'commands work again');
  t.match(sink.lines.map((l) => l.event), ['cluster-redis-unreachable', 'cluster-redis-reachable']);
  t.match(sink.lines[0], { level: 40, cluster: flaky.url, node: 'r' });
});

t.test('keyPrefix isolates two clusters on one Redis', async (t) => {
  const x = await open(t, cluster({ nodeId: 'n', keyPrefix: 'x:' }));
  const y = await open(t, cluster({ nodeId: 'n', keyPrefix: 'y:' }));
  await x.directory.claim('dev-1', INFO, 0);
  t.equal(await y.directory.lookup('dev-1'), undefined, 'a session of cluster x is not in cluster y');
  await x.acl.replace([{ uid: 'dev-1', group: 'Devices', key: Buffer.alloc(16, 1) }]);
  t.same((await y.acl.read()).entries, [], 'nor its ACL');
  const atY: Buffer[][] = [];
  const atX: Buffer[][] = [];
  await joinCluster(t, y, (b) => atY.push(b));
  await joinCluster(t, x, (b) => atX.push(b));
  x.inbox.post('n', Buffer.from('for x'));
  await x.inbox.flush();
  await until(() => atX.length > 0, 'the message in cluster x');
  t.same(atY, [], 'node n of cluster y got nothing');
  const keys = await server.client(t).keys('*');
  t.ok(keys.every((k) => k.startsWith('x:') || k.startsWith('y:') || k.startsWith('iots-test:') || k.startsWith('ports-')), 'every key under a prefix');
});

t.test('close: idempotent, and no client of ours is left connected to Redis', async (t) => {
  const e = await openRedisEngines(cluster({ nodeId: 'c' }), { clock: systemClock, log: pino({ level: 'silent' }) });
  await e.inbox.start(() => {});
  await e.registry.start({ address: '127.0.0.1:1', sessions: 0, protocol: 1 });
  t.match(await ourClients(), ['iotsocket:c:cmd', 'iotsocket:c:sub']);
  const seen: EngineReachability[] = [];
  e.onReachability((r) => seen.push(r));
  await Promise.all([e.close(), e.close()]);
  await e.close();
  t.same(await ourClients(), [], 'CLIENT LIST: none of ours');
  t.equal(e.registry.state, 'stopped');
  t.same(seen, [], 'closing is no reachability news');
});

t.test('close while Redis is away: still bounded, nothing left open', async (t) => {
  const flaky = await RedisServer.start(t);
  const e = await openRedisEngines(cluster({ nodeId: 'z', redis: flaky.url }), { clock: systemClock, log: pino({ level: 'silent' }) });
  await e.inbox.start(() => {});
  await e.registry.start({ address: '127.0.0.1:1', sessions: 0, protocol: 1 });
  await flaky.stop();
  await until(() => e.reachability === 'unreachable', 'unreachable');
  const started = performance.now();
  const closed = await Promise.race([e.close().then(() => 'closed'), new Promise((r) => setTimeout(r, 5_000, 'hung')).then((v) => v)]);
  t.equal(closed, 'closed', `closed in ${(performance.now() - started).toFixed(0)} ms`);
  await flaky.resume();
  t.same(await ourClients(), [], 'no client of ours reconnected after the close');
});

t.test('rediss://: verified against cluster.tls.ca; an untrusted certificate fails the start at once', async (t) => {
  const dir = t.testdir({});
  const pair = await testCerts();
  writeFileSync(join(dir, 'redis.crt'), pair.cert);
  writeFileSync(join(dir, 'redis.key'), pair.key);
  const secure = await RedisServer.start(t, { tls: { certFile: join(dir, 'redis.crt'), keyFile: join(dir, 'redis.key') } });
  t.match(secure.url, /^rediss:/);
  const e = await open(t, cluster({ nodeId: 's', redis: secure.url, tls: { ca: join(dir, 'redis.crt') } }));
  await e.directory.claim('dev-1', INFO, 0);
  t.match(await e.directory.lookup('dev-1'), { node: 's' }, 'commands over TLS');
  const started = performance.now();
  const err = await openRedisEngines(cluster({ nodeId: 'u', redis: secure.url }), { clock: systemClock, log: pino({ level: 'silent' }) }).catch((x: unknown) => x);
  t.equal((err as IotsError).code, ErrorCode.CLUSTER_REDIS);
  t.match((err as Error).message, /^cluster\.redis: the certificate of rediss:\/\/127\.0\.0\.1:\d+ is not trusted \(self[- ]signed certificate\): set cluster\.tls\.ca/);
  t.ok(performance.now() - started < OPEN_BOUND_MIN_MS, 'at once: no retry makes it trusted');
  const missing = await openRedisEngines(cluster({ nodeId: 'm', redis: secure.url, tls: { ca: join(dir, 'nope.crt') } }), { clock: systemClock, log: pino({ level: 'silent' }) })
    .catch((x: unknown) => x);
  t.match(missing, { code: ErrorCode.CLUSTER_REDIS, message: /^cluster\.tls\.ca: cannot read .*nope\.crt/ }, 'a CA file gone since the config was read');
});

t.test('a start under a manual clock nobody advances still gives up in real time', async (t) => {
  const gone = await RedisServer.start(t);
  await gone.stop();
  const opened = openRedisEngines(cluster({ nodeId: 'mc', redis: gone.url, commandTimeoutMs: 50 }), { clock: new ManualClock(), log: pino({ level: 'silent' }) });
  const outcome = await Promise.race([opened.then(() => 'opened', (e: Error) => e.message), new Promise((r) => setTimeout(r, OPEN_BOUND_MIN_MS + 2_000, 'hung'))]);
  t.match(outcome, /^cluster\.redis: cannot reach .* within 3000 ms/);
});
