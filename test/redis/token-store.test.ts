import t, { type Test } from 'tap';
import { commandConnection } from '../../src/redis/connect.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { drawToken, RedisTokenStore } from '../../src/redis/redis-token-store.js';
import { crc16, keySlot } from '../../src/redis/slot.js';
import { tokenKey } from '../../src/registry/token-registry.js';
import { tokenStoreContract } from '../contracts/token-store.contract.js';
import { RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const server = await RedisServer.start(t);
let fleets = 0;

const store = async (t: Test, keys: RedisKeys, opts = {}) => {
  const s = new RedisTokenStore(server.client(t), server.client(t), keys, opts);
  t.teardown(() => s.close());
  await s.subscribed;
  return s;
};

// One redis-server for the file; each test a key prefix of its own (a fleet). Redis expires keys
// by its own clock: elapse() really waits (the contract keeps its lifetimes ≤ 150 ms).
tokenStoreContract(t, async (t) => {
  const keys = new RedisKeys(`t${++fleets}:`);
  return {
    node: (_id, opts) => store(t, keys, { cacheTtlMs: 60_000, ...opts }), // only a notice can drop a cached token in time
    now: () => performance.now(),
    elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
});

t.test('Redis Cluster slots: CRC16 as Redis computes it; a UID\'s tokens share its list\'s slot', async (t) => {
  t.equal(crc16(Buffer.from('123456789')), 0x31c3, 'the reference check value');
  t.equal(keySlot('foo{bar}zap'), keySlot('bar'), 'the hash tag decides');
  t.equal(keySlot('foo{}{bar}'), keySlot('foo{}{bar}'.slice(0)), 'an empty tag is no tag');
  const keys = new RedisKeys('p:');
  for (const uid of ['dev-1', '{a}', 'é:日本']) {
    const slot = keySlot(keys.tokensOf(uid));
    const token = drawToken(slot);
    t.equal(keySlot(keys.token(token.toString('hex'))), slot, `a token of ${uid} lands in its slot`);
    t.equal(keys.tokenHexOf(keys.token(token.toString('hex'))), token.toString('hex'));
  }
  const started = performance.now();
  for (let i = 0; i < 50; i++) drawToken(i * 300);
  t.ok(performance.now() - started < 2_000, `50 draws in ${(performance.now() - started).toFixed(0)} ms`);
});

t.test('every key has an owner or an expiry: the token and its list expire, a token without expiry is owned by its list', async (t) => {
  const keys = new RedisKeys(`ttl${++fleets}:`);
  const r = server.client(t);
  const s = await store(t, keys);
  const short = await s.issue('dev-1', 'G', 60_000, performance.now());
  const tk = keys.token(short!.token.toString('hex'));
  const ttl = await r.pttl(tk);
  t.ok(ttl > 59_000 && ttl <= 60_000, `the token expires with its lifetime (${ttl} ms)`);
  t.ok((await r.pttl(keys.tokensOf('dev-1'))) > 59_000, 'so does its list');
  const forever = await s.issue('dev-1', 'G', 0, performance.now());
  t.equal(await r.pttl(keys.token(forever!.token.toString('hex'))), -1, 'no lifetime: no expiry');
  t.equal(await r.pttl(keys.tokensOf('dev-1')), -1, 'its list persists, owning it');
  t.same(await r.zrange(keys.tokensOf('dev-1'), 0, -1), [tk, keys.token(forever!.token.toString('hex'))], 'both listed, oldest first');
  await s.revoke('dev-1');
  t.same(await r.keys(`${keys.prefix}t*`), [], 'revoked: no token key, no list left');
  t.equal(await r.zcard(keys.tokenIndex), 0, 'nor an index member');
});

t.test('racing issues at several nodes: the list never holds more than two', async (t) => {
  const keys = new RedisKeys(`race${++fleets}:`);
  const r = server.client(t);
  const nodes = await Promise.all([1, 2, 3, 4].map(() => store(t, keys)));
  await Promise.all(Array.from({ length: 40 }, (_, i) => nodes[i % 4]!.issue('dev-1', 'G', 0, performance.now())));
  t.equal(await r.zcard(keys.tokensOf('dev-1')), 2);
  t.equal((await r.keys(`${keys.prefix}t:*`)).length, 2, 'two token keys: nothing orphaned');
});

t.test('a cached token is not trusted past cacheTtlMs when its notice is lost; a subscriber reconnect empties the cache', async (t) => {
  const keys = new RedisKeys(`stale${++fleets}:`);
  const r = server.client(t);
  const a = await store(t, keys);
  const b = await store(t, keys, { cacheTtlMs: 200 });
  const x = await a.issue('dev-1', 'G', 0, performance.now());
  const k = tokenKey(x!.token);
  t.ok(await b.lookup(k, performance.now()), 'cached at B');
  await r.del(keys.token(x!.token.toString('hex'))); // gone behind the stores' backs: no notice
  t.ok(await b.lookup(k, performance.now()), 'B still trusts its cache…');
  await until(async () => (await b.lookup(k, performance.now())) === undefined, '…until cacheTtlMs passed', 2_000);

  const sub = server.client(t);
  const c = new RedisTokenStore(server.client(t), sub, keys, { cacheTtlMs: 60_000 });
  t.teardown(() => c.close());
  await c.subscribed;
  const y = await a.issue('dev-2', 'G', 0, performance.now());
  t.ok(await c.lookup(tokenKey(y!.token), performance.now()), 'cached at C');
  await r.del(keys.token(y!.token.toString('hex')));
  let ready = false;
  sub.once('ready', () => { ready = true; });
  sub.disconnect(true); // ioredis reconnects and resubscribes
  await until(() => ready, 'the subscriber reconnected');
  t.equal(await c.lookup(tokenKey(y!.token), performance.now()), undefined, 'after the reconnect C asks Redis again');
  const z = await a.issue('dev-3', 'G', 0, performance.now());
  t.ok(await c.lookup(tokenKey(z!.token), performance.now()), 'cached at C');
  await a.revoke('dev-3');
  await until(async () => (await c.lookup(tokenKey(z!.token), performance.now())) === undefined, 'A\'s notice reaches C: resubscribed', 2_000);
});

t.test('Redis away: issues and lookups of uncached tokens are refused at once, cached tokens still answer', async (t) => {
  const keys = new RedisKeys(`away${++fleets}:`);
  const cmd = commandConnection({ url: server.url, commandTimeoutMs: 1_000 }, 'test-tokens');
  cmd.on('error', () => {}); // stopped on purpose
  await cmd.connect();
  t.teardown(() => cmd.disconnect());
  const s = new RedisTokenStore(cmd, server.client(t), keys);
  t.teardown(() => s.close());
  await s.subscribed;
  const x = await s.issue('dev-1', 'G', 0, performance.now());
  t.ok(await s.lookup(tokenKey(x!.token), performance.now()), 'cached');
  await server.stop();
  t.teardown(() => server.resume());
  const started = performance.now();
  await t.rejects(s.lookup(tokenKey(Buffer.alloc(8, 9)), performance.now()), 'an uncached token: refused (the datagram is dropped)');
  await t.rejects(s.issue('dev-2', 'G', 0, performance.now()), 'an issue: refused');
  const took = performance.now() - started;
  t.ok(took < 500, `at once (${took.toFixed(0)} ms), not after a timeout`);
  t.match(s.peek(tokenKey(x!.token), performance.now()), { uid: 'dev-1' }, 'the UDP path still knows a cached token');
  await server.resume();
  await until(async () => (await s.issue('dev-2', 'G', 0, performance.now()).catch(() => undefined)) !== undefined, 'issuing again once Redis is back', 5_000);
});
