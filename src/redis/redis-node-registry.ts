import type { Redis } from 'ioredis';
import type { NodeInfo, NodeRegistryEngine } from '../registry/node-registry.js';
import type { RedisKeys } from './keys.js';
import { withScripts } from './scripts.js';

/** KEYS: the lease, the reap claim (one tag: the node). ARGV: incarnation, reaper, claim ms. */
const CLAIM_REAP = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0`;

/** KEYS[1] the list; ARGV: node, incarnation. Removes the entry if it still is that incarnation's. */
const FORGET = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and cjson.decode(v).incarnation == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

/** KEYS[1] a lease; ARGV[1] the incarnation. Deletes it if it still is that incarnation's. */
const DROP_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Scripted = Redis & {
  iotsClaimReap(lease: string, reap: string, incarnation: string, by: string, ms: string): Promise<number>;
  iotsForgetNode(list: string, node: string, incarnation: string): Promise<number>;
  iotsDropLease(lease: string, incarnation: string): Promise<number>;
};

/**
 * Node liveness in Redis: a lease key per node holding its incarnation, PEXPIRE = the lease (so a
 * node killed with -9 lapses by itself, by Redis's clock), one hash listing every known node with
 * its last announcement (for listing and for finding the dead: listed, lease gone), and a reap
 * claim per dead incarnation taken with SET NX and an expiry. Every key expires except the list,
 * whose entries leave with a graceful stop or a reap.
 */
export class RedisNodeRegistryEngine implements NodeRegistryEngine {
  readonly #r: Scripted;
  readonly #k: RedisKeys;

  /** `redis`: a command connection (fail fast: a heartbeat that cannot reach Redis must fail, not queue). */
  constructor(redis: Redis, keys: RedisKeys) {
    this.#r = withScripts<Scripted>(redis, {
      iotsClaimReap: { keys: 2, lua: CLAIM_REAP },
      iotsForgetNode: { keys: 1, lua: FORGET },
      iotsDropLease: { keys: 1, lua: DROP_LEASE },
    });
    this.#k = keys;
  }

  async announce(info: NodeInfo, leaseMs: number): Promise<void> {
    const res = await this.#r.pipeline()
      .set(this.#k.nodeLease(info.node), info.incarnation, 'PX', Math.ceil(leaseMs))
      .hset(this.#k.nodeList, info.node, JSON.stringify(info))
      .exec();
    for (const [err] of res ?? []) if (err) throw err;
  }

  async list(): Promise<Array<{ info: NodeInfo; live: boolean }>> {
    const all = await this.#r.hgetall(this.#k.nodeList);
    const infos = Object.values(all).map((v) => JSON.parse(v) as NodeInfo);
    if (infos.length === 0) return [];
    const p = this.#r.pipeline();
    for (const i of infos) p.get(this.#k.nodeLease(i.node));
    const leases = await p.exec();
    return infos.map((info, i) => {
      const [err, v] = leases?.[i] ?? [new Error('redis pipeline returned no result')];
      if (err) throw err;
      return { info, live: v === info.incarnation };
    });
  }

  async claimReap(dead: NodeInfo, by: string, claimMs: number): Promise<boolean> {
    const won = await this.#r.iotsClaimReap(
      this.#k.nodeLease(dead.node), this.#k.nodeReap(dead.node, dead.incarnation), dead.incarnation, by, String(Math.ceil(claimMs)),
    );
    return won === 1;
  }

  async forget(dead: NodeInfo): Promise<void> {
    await this.#r.iotsForgetNode(this.#k.nodeList, dead.node, dead.incarnation);
  }

  async ping(): Promise<void> {
    await this.#r.ping();
  }

  async leave(info: NodeInfo): Promise<void> {
    // The entry first: between the two, a peer must never see it listed without its lease (dead: node-lost answers for a graceful stop).
    await this.forget(info);
    await this.#r.iotsDropLease(this.#k.nodeLease(info.node), info.incarnation);
  }
}
