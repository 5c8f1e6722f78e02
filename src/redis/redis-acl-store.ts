import type { Redis } from 'ioredis';
import type { AclEntry } from '../protocol/index.js';
import type { AclSnapshot, AclStore } from '../registry/acl-store.js';
import type { RedisKeys } from './keys.js';
import { withScripts } from './scripts.js';

/**
 * KEYS: entries hash, version. ARGV: uid, value pairs. Replaces the hash whole and bumps the
 * version. HSET takes the pairs 1 000 at a time: Redis's Lua cannot unpack more than about
 * 8 000 values at once, and a fleet's ACL is 100 000 entries or more.
 */
const REPLACE = `
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
return redis.call('INCR', KEYS[2])`;

/** KEYS: entries hash, version. Both in one reply, so a read never mixes two versions. */
const READ = `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}`;

type Scripted = Redis & {
  iotsAclReplace(entries: string, version: string, argv: readonly string[]): Promise<number>;
  iotsAclRead(entries: string, version: string): Promise<[string, string[]]>;
};

/**
 * The fleet's ACL in Redis: one hash (UID → group and key) and a version counter under one hash
 * tag, replaced by one script; a change is published so that nodes reload at once, and every
 * handshake checks the version first (one GET), so no node decides on an ACL older than the
 * last replacement acknowledged anywhere.
 */
export class RedisAclStore implements AclStore {
  readonly source = 'ACL in Redis';
  readonly shared = true;
  readonly #r: Scripted;
  readonly #subscriber: Redis;
  readonly #k: RedisKeys;

  /** `subscriber`: a connection of its own (a subscribed connection can issue no other command). */
  constructor(redis: Redis, subscriber: Redis, keys: RedisKeys) {
    this.#r = withScripts<Scripted>(redis, {
      iotsAclReplace: { keys: 2, lua: REPLACE },
      iotsAclRead: { keys: 2, lua: READ },
    });
    this.#subscriber = subscriber;
    this.#k = keys;
  }

  async read(): Promise<AclSnapshot> {
    const [version, flat] = await this.#r.iotsAclRead(this.#k.aclEntries, this.#k.aclVersion);
    const entries: AclEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [group, keyHex] = JSON.parse(flat[i + 1]!) as [string, string];
      entries.push({ uid: flat[i]!, group, key: Buffer.from(keyHex, 'hex') });
    }
    entries.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    return { version: String(version), entries };
  }

  async version(): Promise<string> {
    return (await this.#r.get(this.#k.aclVersion)) ?? '0';
  }

  async replace(entries: readonly AclEntry[]): Promise<string> {
    const argv: string[] = [];
    for (const e of entries) argv.push(e.uid, JSON.stringify([e.group, e.key.toString('hex')]));
    // One array argument (ioredis flattens it): spreading 2 values per entry into the call overflows the JS stack.
    const version = String(await this.#r.iotsAclReplace(this.#k.aclEntries, this.#k.aclVersion, argv));
    await this.#r.publish(this.#k.aclChannel, version).catch(() => {}); // a missed notice is caught by the next handshake's check
    return version;
  }

  watch(onChange: () => void): () => void {
    const channel = this.#k.aclChannel;
    const onMessage = (ch: string) => { if (ch === channel) onChange(); };
    this.#subscriber.on('message', onMessage);
    void this.#subscriber.subscribe(channel).catch(() => {});
    return () => {
      this.#subscriber.off('message', onMessage);
      void this.#subscriber.unsubscribe(channel).catch(() => {});
    };
  }
}
