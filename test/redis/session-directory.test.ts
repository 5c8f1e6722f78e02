import t from 'tap';
import { RedisKeys } from '../../src/redis/keys.js';
import { RedisSessionDirectory } from '../../src/redis/redis-session-directory.js';
import { sessionDirectoryContract } from '../contracts/session-directory.contract.js';
import { RedisServer } from '../helpers/redis.js';

const server = await RedisServer.start(t);
let fleets = 0;

// One redis-server for the file; each test gets its own key prefix (a fleet of its own).
sessionDirectoryContract(t, async (t) => {
  const keys = new RedisKeys(`t${++fleets}:`);
  const clients = new Map<string, RedisSessionDirectory>();
  return { node: async (id) => clients.get(id) ?? clients.set(id, new RedisSessionDirectory(server.client(t), keys, id)).get(id)! };
});

t.test('a kept entry carries a Redis expiry; a connected one is owned by its node', async (t) => {
  const keys = new RedisKeys('ttl:');
  const r = server.client(t);
  const a = new RedisSessionDirectory(r, keys, 'a');
  const c = await a.claim('dev-1', { kind: 'object', group: 'G', peer: 'p', tls: false, maxTransmissionLength: 0 }, 0);
  t.equal(await r.pttl(keys.session('dev-1')), -1, 'connected: no expiry (owned by node a)');
  t.equal(await r.sismember(keys.heldBy('a'), RedisKeys.uidTag('dev-1')), 1, 'listed as held by node a');
  await a.keep('dev-1', c.claim, 60_000, 0);
  const ttl = await r.pttl(keys.session('dev-1'));
  t.ok(ttl > 60_000 && ttl <= 60_000 + 10 * 60_000, `kept: expires in Redis too (${ttl} ms)`);
});
