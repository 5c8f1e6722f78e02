import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AclEntry } from '../protocol/index.js';
import type { AclSnapshot, AclStore } from '../registry/acl-store.js';
import type { RedisKeys } from './keys.js';
import { check, withScripts } from './scripts.js';

/** Entries per command, both ways: an O(N) command on a fleet's ACL would outlast the command timeout and hold up Redis for every node. */
const PAGE_ENTRIES = 1000;
/** A staged replacement whose writer died unfinished is dropped by Redis after this. */
const STAGING_TTL_MS = 10 * 60_000;
/** Reads retried when a replacement lands mid-read, before giving up. */
const READ_ATTEMPTS = 5;

/**
 * KEYS: staging hash, entries hash, version. ARGV: the number of distinct UIDs staged. Puts the
 * staged hash in place of the entries and bumps the version, in one step; refuses a staging
 * that lost entries (expired under a stalled writer) rather than installing part of an ACL.
 */
const COMMIT = `
local n = tonumber(ARGV[1])
if n == 0 then
  redis.call('DEL', KEYS[2])
else
  if redis.call('HLEN', KEYS[1]) ~= n then
    redis.call('DEL', KEYS[1])
    return redis.error_reply('ACL staging incomplete')
  end
  redis.call('UNLINK', KEYS[2])
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
end
return redis.call('INCR', KEYS[3])`;

type Scripted = Redis & {
  iotsAclCommit(staging: string, entries: string, version: string, distinct: number): Promise<number>;
};

/**
 * The fleet's ACL in Redis: one hash (UID → group and key) and a version counter under one hash
 * tag. A replacement is staged in a hash of its own, 1 000 entries a command, then put in place
 * with the version bump by one script; a read pages through the hash (HSCAN) between two reads
 * of the version, again if they differ, so it never mixes two versions. A change is published
 * so that nodes reload at once, and every handshake checks the version first (one GET), so no
 * node decides on an ACL older than the last replacement acknowledged anywhere.
 */
export class RedisAclStore implements AclStore {
  readonly source = 'ACL in Redis';
  readonly shared = true;
  readonly #r: Scripted;
  readonly #subscriber: Redis;
  readonly #k: RedisKeys;

  /** `subscriber`: a connection of its own (a subscribed connection can issue no other command). */
  constructor(redis: Redis, subscriber: Redis, keys: RedisKeys) {
    this.#r = withScripts<Scripted>(redis, { iotsAclCommit: { keys: 3, lua: COMMIT } });
    this.#subscriber = subscriber;
    this.#k = keys;
  }

  async read(): Promise<AclSnapshot> {
    for (let attempt = 1; ; attempt++) {
      const version = await this.version();
      const byUid = new Map<string, string>(); // HSCAN may return a field twice
      let cursor = '0';
      do {
        const [next, flat] = await this.#r.hscan(this.#k.aclEntries, cursor, 'COUNT', PAGE_ENTRIES);
        for (let i = 0; i < flat.length; i += 2) byUid.set(flat[i]!, flat[i + 1]!);
        cursor = next;
      } while (cursor !== '0');
      if ((await this.version()) === version) return { version, entries: parseEntries(byUid) };
      if (attempt >= READ_ATTEMPTS) throw new Error(`the ACL in Redis changed during each of ${READ_ATTEMPTS} reads`);
    }
  }

  async version(): Promise<string> {
    return (await this.#r.get(this.#k.aclVersion)) ?? '0';
  }

  async replace(entries: readonly AclEntry[]): Promise<string> {
    const staging = this.#k.aclStaging(randomBytes(8).toString('hex'));
    for (let i = 0; i < entries.length; i += PAGE_ENTRIES) {
      const argv: string[] = [];
      for (const e of entries.slice(i, i + PAGE_ENTRIES)) argv.push(e.uid, JSON.stringify([e.group, e.key.toString('hex')]));
      // The pairs as one array argument (ioredis flattens it): spread into the call, a large page would overflow the JS stack.
      check(await this.#r.pipeline().hset(staging, argv).pexpire(staging, STAGING_TTL_MS).exec());
    }
    const distinct = new Set(entries.map((e) => e.uid)).size;
    const version = String(await this.#r.iotsAclCommit(staging, this.#k.aclEntries, this.#k.aclVersion, distinct));
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

function parseEntries(byUid: ReadonlyMap<string, string>): AclEntry[] {
  const entries: AclEntry[] = [];
  for (const [uid, value] of byUid) {
    const [group, keyHex] = JSON.parse(value) as [string, string];
    entries.push({ uid, group, key: Buffer.from(keyHex, 'hex') });
  }
  return entries.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
}
