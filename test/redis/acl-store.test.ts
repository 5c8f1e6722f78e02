import t from 'tap';
import { AclService } from '../../src/registry/acl-service.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { RedisAclStore } from '../../src/redis/redis-acl-store.js';
import { aclStoreContract } from '../contracts/acl-store.contract.js';
import { RedisServer } from '../helpers/redis.js';

const server = await RedisServer.start(t);
let n = 0;
aclStoreContract(t, async (t) => {
  const keys = new RedisKeys(`t${++n}:`);
  return { store: async () => new RedisAclStore(server.client(t), server.client(t), keys) };
});

t.test('a node decides handshakes on the ACL another node wrote; a burst of handshakes shares its version checks', async (t) => {
  const keys = new RedisKeys('verdict:');
  const nodeA = new AclService(new RedisAclStore(server.client(t), server.client(t), keys), ['Devices'], { revoked: () => {} });
  const revokedAtB: string[] = [];
  const nodeB = new AclService(new RedisAclStore(server.client(t), server.client(t), keys), ['Devices'], { revoked: (uid) => revokedAtB.push(uid) });
  await nodeB.load();
  await nodeA.replace([{ uid: 'new-1', group: 'Devices', key: Buffer.alloc(16, 1) }]);
  const probe = server.client(t);
  const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
  const before = await gets();
  await Promise.all(Array.from({ length: 50 }, () => nodeB.beforeVerdict()));
  t.ok(nodeB.current.get('new-1'), 'node B enforces node A\'s replacement before deciding');
  const checks = (await gets()) - before;
  t.ok(checks >= 1 && checks <= 2, `50 handshakes, ${checks} version checks`);
  await nodeA.replace([]);
  await nodeB.beforeVerdict();
  t.same([nodeB.current.size, revokedAtB], [0, ['new-1']], 'a removal at A revokes at B');
});

t.test('a fleet-sized ACL (100 000 entries) is replaced and read back whole', async (t) => {
  // Seeding a cluster from a 100 000-device acl.file used to fail: the arguments were spread into
  // one JS call (RangeError: call stack) and into one Lua unpack (Redis caps it near 8 000 values).
  const store = new RedisAclStore(server.client(t), server.client(t), new RedisKeys('fleet-sized:'));
  const entries = Array.from({ length: 100_000 }, (_, i) => ({ uid: `d${String(i).padStart(6, '0')}`, group: 'Devices', key: Buffer.alloc(16, i & 0xff) }));
  const version = await store.replace(entries);
  const read = await store.read();
  t.equal(read.version, version, 'the version of the replacement');
  t.equal(read.entries.length, 100_000, 'every entry stored');
  t.same(read.entries[99_999], entries[99_999], 'the last entry as written');
  await store.replace(entries.slice(0, 3));
  t.equal((await store.read()).entries.length, 3, 'a smaller replacement drops the rest');
});
