import t from 'tap';
import { RedisKeys } from '../../src/redis/keys.js';
import { RedisSessionBuffers } from '../../src/redis/redis-session-buffers.js';
import { RedisSessionDirectory } from '../../src/redis/redis-session-directory.js';
import { sessionBuffersContract } from '../contracts/session-buffers.contract.js';
import { RedisServer } from '../helpers/redis.js';

const server = await RedisServer.start(t);
let n = 0;
sessionBuffersContract(t, async (t) => {
  const keys = new RedisKeys(`t${++n}:`);
  return { buffers: new RedisSessionBuffers(server.client(t), keys), directory: new RedisSessionDirectory(server.client(t), keys, 'n1') };
});

t.test('a buffer expires in Redis with its kept session; it survives a Redis restart (AOF)', async (t) => {
  const keys = new RedisKeys('ttl:');
  const b = new RedisSessionBuffers(server.client(t), keys);
  await b.append('dev-1', { bytes: Buffer.from('req'), request: { dir: 'down', tracking: 3, node: 'a' } }, { maxCount: 10, maxBytes: 100, ttlMs: 90_000 });
  const probe = server.client(t);
  const ttl = await probe.pttl(keys.buffer('dev-1'));
  t.ok(ttl > 80_000 && ttl <= 90_000, `stream ttl ${ttl} ms`);
  t.ok((await probe.pttl(keys.bufferBytes('dev-1'))) > 80_000, 'its byte count too');
  await server.stop();
  await server.resume();
  const again = new RedisSessionBuffers(server.client(t), keys);
  t.same((await again.take('dev-1')).map((e) => [e.bytes.toString(), e.request?.tracking]), [['req', 3]], 'kept across the restart');
});
