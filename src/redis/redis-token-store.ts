import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { TOKEN_LENGTH } from '../protocol/index.js';
import type { TokenInfo } from '../registry/token-registry.js';
import { ASK, type IssuedToken, type TokenStore } from '../registry/token-store.js';
import { RedisKeys } from './keys.js';
import { hexSlot, keySlot } from './slot.js';
import { withScripts, unwrap } from './scripts.js';

// The issue and revoke scripts touch one UID's slot only: its token list and its tokens' hashes
// (drawn into that slot, see drawToken). The fleet-wide index follows in a separate command.

/**
 * KEYS[1] the UID's list, KEYS[2] the new token's hash; ARGV: uid, group, lifetime ms (0: none).
 * Frees every live token but the newest (it becomes the one replaced), adds the new one. Returns
 * {freed keys}. Members of the list are token keys of this slot.
 */
const ISSUE = `
local t = redis.call('TIME')
local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local live = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', m) == 1 then live[#live + 1] = m else redis.call('ZREM', KEYS[1], m) end
end
local freed = {}
for i = 1, #live - 1 do
  redis.call('DEL', live[i])
  redis.call('ZREM', KEYS[1], live[i])
  freed[#freed + 1] = live[i]
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local score = us
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
redis.call('HSET', KEYS[2], 'uid', ARGV[1], 'group', ARGV[2])
local life = tonumber(ARGV[3])
if life > 0 then redis.call('PEXPIRE', KEYS[2], life) end
redis.call('ZADD', KEYS[1], score, KEYS[2])
local longest = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local p = redis.call('PTTL', m)
  if p == -1 then longest = -1 break end
  if p > longest then longest = p end
end
if longest == -1 then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], longest) end
return {freed}`;

/** KEYS[1] the UID's list. Deletes it and its tokens; returns {tokens that were live, every member}. */
const REVOKE = `
local all = redis.call('ZRANGE', KEYS[1], 0, -1)
local live = {}
for _, m in ipairs(all) do
  if redis.call('DEL', m) == 1 then live[#live + 1] = m end
end
redis.call('DEL', KEYS[1])
return {live, all}`;

/** KEYS[1] a token's hash. {uid, group, PTTL} or nil. */
const LOOKUP = `
local h = redis.call('HMGET', KEYS[1], 'uid', 'group')
if not h[1] then return false end
return {h[1], h[2], redis.call('PTTL', KEYS[1])}`;

/** KEYS[1] the index. Drops what expired by Redis's clock; returns {how many are left, Redis's time in ms}. */
const COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return {redis.call('ZCARD', KEYS[1]), now}`;

/** Tokens checked per pipeline by known(). */
const KNOWN_CHUNK = 1_000;

/** A close waits this long at most for its UNSUBSCRIBE (a server that just went away never answers it). */
const UNSUBSCRIBE_BOUND_MS = 500;

export interface RedisTokenOptions {
  /** The fleet-wide bound (approximate, see `issue`). */
  readonly max: number;
  /**
   * How long a node trusts a cached answer without hearing from Redis: the bound on staleness
   * when an invalidation notice is lost (see the class comment).
   */
  readonly cacheTtlMs: number;
  /** Tokens (valid or not) a node caches at most. */
  readonly cacheMax: number;
}

const DEFAULTS: RedisTokenOptions = { max: 1_000_000, cacheTtlMs: 5_000, cacheMax: 200_000 };

type Cached = { info: TokenInfo | undefined; until: number };

type Scripted = Redis & {
  iotsTokenIssue(list: string, token: string, uid: string, group: string, lifetime: string): Promise<[string[]]>;
  iotsTokenRevoke(list: string): Promise<[string[], string[]]>;
  iotsTokenLookup(token: string): Promise<[string, string, number] | null>;
};

/**
 * Telemetry tokens in Redis: a hash per token (PEXPIRE = its lifetime, so an expired token
 * vanishes by itself), a sorted set per UID (the token list, which owns the tokens that never
 * expire: revoke removes them), both in the UID's slot, and an index of every token for the
 * fleet-wide bound.
 *
 * The UDP hot path pays no round trip per datagram: each node caches what it looked up — valid
 * tokens and unknown ones (a flood of bad tokens must not become a flood of Redis commands) —
 * and drops a token from every node's cache when it is revoked or replaced, by a notice on
 * pub/sub. What staleness remains:
 * - between a revocation's write in Redis and the notice reaching a node: one delivery, ms;
 * - a notice lost (pub/sub is at most once: the subscriber was disconnected, or the revoking
 *   node lost Redis between its write and its PUBLISH): bounded by `cacheTtlMs`, since no
 *   answer is trusted longer; on every (re)connect of the subscriber the cache is emptied, as
 *   notices may have been missed while it was away;
 * - expiry needs no notice: a cached token carries its expiry, converted to this node's clock
 *   from Redis's PTTL when looked up (early by the lookup's round trip, never late).
 * A lookup in flight when a notice arrives is answered but not cached (its answer may predate it).
 */
export class RedisTokenStore implements TokenStore {
  readonly #r: Scripted;
  readonly #sub: Redis;
  readonly #k: RedisKeys;
  readonly #o: RedisTokenOptions;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, Cached>;
  readonly #pending = new Map<string, Promise<TokenInfo | undefined>>();
  /** Bumped by every invalidation: a lookup that saw another value does not cache its answer. */
  #epoch = 0;
  readonly #onMessage: (channel: string, msg: string) => void;
  readonly #onReady: () => void;
  readonly #backs: Array<() => void> = [];
  /** The command connection's (re)connects after its first: the store was away, and may have lost what it held. */
  readonly #onCommandReady: () => void;
  #commandConnected = false;
  /** Resolves once this node hears invalidation notices (tests wait for it). */
  readonly subscribed: Promise<void>;

  /**
   * `subscriber`: a connection of its own (ioredis resubscribes after a reconnect); `now`: the
   * clock of the `now` arguments (performance.now by default), for cache ages.
   */
  constructor(redis: Redis, subscriber: Redis, keys: RedisKeys, opts: Partial<RedisTokenOptions> = {}, now: () => number = () => performance.now()) {
    this.#r = withScripts<Scripted>(redis, {
      iotsTokenIssue: { keys: 2, lua: ISSUE },
      iotsTokenRevoke: { keys: 1, lua: REVOKE },
      iotsTokenLookup: { keys: 1, lua: LOOKUP },
      iotsTokenCount: { keys: 1, lua: COUNT },
    });
    this.#sub = subscriber;
    this.#k = keys;
    this.#o = { ...DEFAULTS, ...opts };
    this.#now = now;
    this.#cache = new LRUCache<string, Cached>({ max: this.#o.cacheMax });
    const channel = keys.tokenChannel;
    this.#onMessage = (ch, msg) => {
      if (ch !== channel) return;
      this.#epoch++;
      for (const hex of msg.split(' ')) this.#cache.delete(Buffer.from(hex, 'hex').toString('latin1'));
    };
    // On every (re)connect: notices may have been missed meanwhile. Cleared again once SUBSCRIBE
    // is confirmed, since ioredis says 'ready' before its resubscription lands.
    this.#onReady = () => {
      this.#clearCache();
      subscriber.subscribe(channel).then(() => this.#clearCache(), () => {});
    };
    this.#onCommandReady = () => {
      if (!this.#commandConnected) {
        this.#commandConnected = true;
        return;
      }
      for (const fn of this.#backs) fn();
    };
    if (redis.status === 'ready') this.#commandConnected = true;
    redis.on('ready', this.#onCommandReady);
    subscriber.on('message', this.#onMessage);
    subscriber.on('ready', this.#onReady);
    this.subscribed = subscriber.subscribe(channel).then(() => {});
    this.subscribed.catch(() => {}); // retried by ioredis on reconnect; until then the cache TTL bounds staleness
  }

  /**
   * The bound is approximate: the count and the issue are separate commands (a fleet-wide count
   * is cross-slot), so racing issuers may overshoot `max` by their number; and a node that dies
   * between the issue and its index update leaves an index member until its expiry (never, for a
   * token without one: it then counts until the index is rebuilt).
   */
  async issue(uid: string, group: string, lifetimeMs: number, now: number): Promise<IssuedToken | undefined> {
    const list = this.#k.tokensOf(uid);
    const res = await (this.#r.pipeline() as ChainableCommander & { iotsTokenCount(k: string): ChainableCommander })
      .iotsTokenCount(this.#k.tokenIndex).zcard(list).exec();
    const [[count, redisNow], held] = [unwrap(res, 0) as [number, number], Number(unwrap(res, 1))];
    if (count - (held >= 2 ? 1 : 0) >= this.#o.max) return undefined; // renewing frees the UID's oldest
    const token = drawToken(keySlot(list));
    const hex = token.toString('hex');
    const key = this.#k.token(hex);
    const life = lifetimeMs > 0 ? Math.ceil(lifetimeMs) : 0;
    // Indexed before the script adds it: a racing issuer frees it (and unindexes it) only after.
    const p = this.#r.pipeline() as ChainableCommander & { iotsTokenIssue(...a: string[]): ChainableCommander };
    p.zadd(this.#k.tokenIndex, life > 0 ? Number(redisNow) + life : '+inf', key);
    p.iotsTokenIssue(list, key, uid, group, String(life));
    const issued = await p.exec();
    let freed: string[];
    try {
      freed = (unwrap(issued, 1) as [string[]])[0];
    } catch (err) {
      await this.#r.zrem(this.#k.tokenIndex, key).catch(() => {}); // indexed, never issued
      throw err;
    }
    if (freed.length) await this.#r.zrem(this.#k.tokenIndex, ...freed);
    await this.#dropped(freed);
    return { token, info: { uid, group, expiresAt: life > 0 ? now + life : Infinity } };
  }

  peek(key: string, now: number): TokenInfo | undefined | typeof ASK {
    const c = this.#cache.get(key);
    if (!c) return ASK;
    if (c.info && c.info.expiresAt <= now) {
      this.#cache.delete(key);
      return undefined; // expired: gone in Redis too, by its own clock
    }
    if (c.until <= now) {
      this.#cache.delete(key);
      return ASK;
    }
    return c.info;
  }

  lookup(key: string, now: number): Promise<TokenInfo | undefined> {
    const known = this.peek(key, now);
    if (known !== ASK) return Promise.resolve(known);
    // A burst of datagrams with one new token costs one round trip.
    let p = this.#pending.get(key);
    if (!p) {
      p = this.#fetch(key, now).finally(() => this.#pending.delete(key));
      this.#pending.set(key, p);
    }
    return p;
  }

  /** One pipeline of EXISTS (in chunks): a token it no longer holds also leaves this node's cache. */
  async known(keys: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < keys.length; i += KNOWN_CHUNK) {
      const chunk = keys.slice(i, i + KNOWN_CHUNK);
      const p = this.#r.pipeline();
      for (const key of chunk) p.exists(this.#k.token(Buffer.from(key, 'latin1').toString('hex')));
      const res = await p.exec();
      chunk.forEach((key, j) => {
        const known = Number(unwrap(res, j)) === 1;
        if (!known) this.#cache.delete(key);
        out.push(known);
      });
    }
    return out;
  }

  onBack(fn: () => void): void {
    this.#backs.push(fn);
  }

  async revoke(uid: string): Promise<number> {
    const [live, all] = await this.#r.iotsTokenRevoke(this.#k.tokensOf(uid));
    if (all.length) await this.#r.zrem(this.#k.tokenIndex, ...all);
    await this.#dropped(all);
    return live.length;
  }

  get size(): Promise<number> {
    return (this.#r as unknown as { iotsTokenCount(k: string): Promise<[number, number]> }).iotsTokenCount(this.#k.tokenIndex).then(([n]) => n);
  }

  async close(): Promise<void> {
    this.#sub.off('message', this.#onMessage);
    this.#sub.off('ready', this.#onReady);
    this.#r.off('ready', this.#onCommandReady);
    // Away, the UNSUBSCRIBE would wait for a reconnect: a subscription lost with the connection needs none.
    // 'ready' can still show for a moment after the server went away, so the wait is bounded too.
    if (this.#sub.status !== 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, UNSUBSCRIBE_BOUND_MS); timer.unref(); });
    await Promise.race([this.#sub.unsubscribe(this.#k.tokenChannel).then(() => {}, () => {}), bound]);
    clearTimeout(timer);
  }

  async #fetch(key: string, now: number): Promise<TokenInfo | undefined> {
    const epoch = this.#epoch;
    const hex = Buffer.from(key, 'latin1').toString('hex');
    const res = await this.#r.iotsTokenLookup(this.#k.token(hex));
    let info: TokenInfo | undefined;
    if (res) {
      const pttl = Number(res[2]);
      info = { uid: res[0], group: res[1], expiresAt: pttl >= 0 ? now + pttl : Infinity };
    }
    if (epoch === this.#epoch) this.#cache.set(key, { info, until: this.#now() + this.#o.cacheTtlMs });
    return info;
  }

  /** Drops tokens here at once and tells every node (a lost notice is bounded by cacheTtlMs). */
  async #dropped(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const hexes = keys.map((k) => this.#k.tokenHexOf(k));
    this.#epoch++;
    for (const hex of hexes) this.#cache.delete(Buffer.from(hex, 'hex').toString('latin1'));
    await this.#r.publish(this.#k.tokenChannel, hexes.join(' ')).catch(() => {});
  }

  #clearCache(): void {
    this.#epoch++;
    this.#cache.clear();
  }
}

/**
 * A random token whose key falls in `slot` (its UID's): 8 random bytes, drawn again until the
 * first 4 (the key's hash tag, in hex) land there — about 16 384 draws, 0.6 ms on average (p99 4 ms here). A
 * token is still 8 random bytes to anyone guessing tokens of the fleet; one who targets one UID
 * can skip the 14 bits of its slot, leaving 2^50 guesses.
 */
export function drawToken(slot: number): Buffer {
  for (;;) {
    const pool = randomBytes(TOKEN_LENGTH * 512);
    for (let i = 0; i < pool.length; i += TOKEN_LENGTH) {
      if (hexSlot(pool, i, 4) === slot) return Buffer.from(pool.subarray(i, i + TOKEN_LENGTH));
    }
  }
}
