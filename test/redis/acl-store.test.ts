import t from 'tap';
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
