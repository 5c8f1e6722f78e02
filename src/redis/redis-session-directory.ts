import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { ClaimOutcomeUnknown, type ClaimResult, type DirectoryEntry, type SessionDirectory, type SessionInfo } from '../registry/session-directory.js';
import { RedisKeys } from './keys.js';
import { outcomeUnknown, readyToSend } from './outcome.js';
import { withScripts, check, unwrap } from './scripts.js';

// Each script reads and writes one UID's hash only; the indexes follow in the same pipeline.

/** KEYS[1] the hash; ARGV: the fields of the new entry, as name/value pairs. Returns the old entry. */
const CLAIM = `
local old = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return old`;

/** KEYS[1]; ARGV: claim, keptUntil, since, ttl ms. The node that held it, when the entry was still this claim's; else false. */
const KEEP = `
if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'state', 'kept', 'keptUntil', ARGV[2], 'since', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('HGET', KEYS[1], 'node')`;

/** KEYS[1]; ARGV[1]: the claim, or '' for any. Returns the removed entry, or an empty list. */
const END = `
local e = redis.call('HGETALL', KEYS[1])
if #e == 0 then return e end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
return e`;

/** A kept entry outlives its keptUntil by this much in Redis, so the sweep finds it; then Redis drops it anyway. */
const KEPT_KEY_MARGIN_MS = 10 * 60_000;

type Scripted = Redis & {
  iotsClaim(key: string, ...argv: string[]): Promise<string[]>;
  iotsKeep(key: string, claim: string, keptUntil: string, since: string, ttl: string): Promise<string | null>;
  iotsEnd(key: string, claim: string): Promise<string[]>;
};

/** The directory in Redis: one hash per UID, plus listing, expiry and per-node indexes. */
export class RedisSessionDirectory implements SessionDirectory {
  readonly node: string;
  readonly #r: Scripted;
  readonly #k: RedisKeys;
  /** Unique per process until the node's lease incarnation is set: claims stay distinct across restarts of a node with the same id. */
  #incarnation = randomBytes(4).toString('hex');
  #claims = 0;

  constructor(redis: Redis, keys: RedisKeys, node: string) {
    this.node = node;
    this.#k = keys;
    this.#r = withScripts<Scripted>(redis, {
      iotsClaim: { keys: 1, lua: CLAIM },
      iotsKeep: { keys: 1, lua: KEEP },
      iotsEnd: { keys: 1, lua: END },
    });
  }

  useIncarnation(incarnation: string): void {
    this.#incarnation = incarnation;
  }

  async claim(uid: string, info: SessionInfo, now: number): Promise<ClaimResult> {
    const claim = `${this.node}.${this.#incarnation}.${++this.#claims}`;
    const fields = [
      'uid', uid, 'node', this.node, 'claim', claim, 'state', 'connected', 'since', String(now), 'keptUntil', '0',
      'kind', info.kind, 'group', info.group, 'peer', info.peer, 'tls', info.tls ? '1' : '0', 'mtl', String(info.maxTransmissionLength),
    ];
    const tag = RedisKeys.uidTag(uid);
    const pipeline = this.#r.pipeline() as ChainableCommander & { iotsClaim(key: string, ...argv: string[]): ChainableCommander };
    const ready = readyToSend(this.#r);
    let previous: DirectoryEntry | undefined;
    try {
      const res = await pipeline
        .iotsClaim(this.#k.session(uid), ...fields)
        .zadd(this.#k.sessionIndex, 0, tag)
        .sadd(this.#k.heldBy(this.node), tag)
        .zrem(this.#k.keptIndex, tag)
        .exec();
      previous = fromHash(unwrap(res, 0) as string[]);
    } catch (err) {
      throw outcomeUnknown(ready, err) ? new ClaimOutcomeUnknown(claim, err) : err;
    }
    if (previous && previous.node !== this.node) await this.#r.srem(this.#k.heldBy(previous.node), tag);
    return previous ? { claim, previous } : { claim };
  }

  async keep(uid: string, claim: string, keptUntil: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, keptUntil - now) + KEPT_KEY_MARGIN_MS;
    const holder = await this.#r.iotsKeep(this.#k.session(uid), claim, String(keptUntil), String(now), String(ttl));
    if (holder === null) return false;
    // The holder's set, not this node's: a survivor keeps a dead node's entries when it reaps it.
    const tag = RedisKeys.uidTag(uid);
    await this.#r.pipeline().srem(this.#k.heldBy(holder), tag).zadd(this.#k.keptIndex, keptUntil, tag).exec().then(check);
    return true;
  }

  async end(uid: string, claim?: string): Promise<DirectoryEntry | undefined> {
    const e = fromHash(await this.#r.iotsEnd(this.#k.session(uid), claim ?? ''));
    if (e) await this.#forget(RedisKeys.uidTag(uid), e.node);
    return e;
  }

  async lookup(uid: string): Promise<DirectoryEntry | undefined> {
    return fromHash(await this.#r.hgetall(this.#k.session(uid)));
  }

  async lookupMany(uids: readonly string[]): Promise<Array<DirectoryEntry | undefined>> {
    if (uids.length === 0) return [];
    const p = this.#r.pipeline();
    for (const u of uids) p.hgetall(this.#k.session(u));
    const res = await p.exec();
    return uids.map((_, i) => fromHash(unwrap(res, i) as Record<string, string>));
  }

  async list(after: string | undefined, count: number): Promise<{ entries: DirectoryEntry[]; next?: string }> {
    const entries: DirectoryEntry[] = [];
    let from = after === undefined ? '-' : `(${RedisKeys.uidTag(after)}`;
    // Index members whose hash is gone (expired in Redis, or a crash between two commands) are skipped and cleaned.
    for (;;) {
      const want = count - entries.length;
      const tags = await this.#r.zrangebylex(this.#k.sessionIndex, from, '+', 'LIMIT', 0, want + 1);
      const found = await this.lookupMany(tags.slice(0, want).map(RedisKeys.uidOf));
      const stale = tags.slice(0, want).filter((_, i) => !found[i]);
      if (stale.length) await this.#r.zrem(this.#k.sessionIndex, ...stale);
      for (const e of found) if (e) entries.push(e);
      if (tags.length <= want) return { entries };
      if (entries.length >= count) return { entries, next: entries.at(-1)!.uid };
      from = `(${tags[want - 1]}`;
    }
  }

  async expired(now: number, max: number): Promise<DirectoryEntry[]> {
    const tags = await this.#r.zrangebyscore(this.#k.keptIndex, '-inf', now, 'LIMIT', 0, max);
    const found = await this.lookupMany(tags.map(RedisKeys.uidOf));
    const gone = tags.filter((_, i) => !found[i] || found[i]!.state !== 'kept');
    if (gone.length) await this.#r.zrem(this.#k.keptIndex, ...gone);
    return found.filter((e): e is DirectoryEntry => e !== undefined && e.state === 'kept' && e.keptUntil <= now);
  }

  async heldBy(node: string): Promise<DirectoryEntry[]> {
    const tags = await this.#r.smembers(this.#k.heldBy(node));
    const found = await this.lookupMany(tags.map(RedisKeys.uidOf));
    return found.filter((e): e is DirectoryEntry => e !== undefined && e.node === node && e.state === 'connected');
  }

  get size(): Promise<number> {
    return this.#r.zcard(this.#k.sessionIndex);
  }

  async #forget(tag: string, node: string): Promise<void> {
    await this.#r.pipeline().zrem(this.#k.sessionIndex, tag).zrem(this.#k.keptIndex, tag).srem(this.#k.heldBy(node), tag).exec().then(check);
  }
}

function fromHash(h: Record<string, string> | string[] | null | undefined): DirectoryEntry | undefined {
  if (!h) return undefined;
  let o: Record<string, string> = h as Record<string, string>;
  if (Array.isArray(h)) {
    if (h.length === 0) return undefined;
    o = {};
    for (let i = 0; i < h.length; i += 2) o[h[i]!] = h[i + 1]!;
  }
  if (o.uid === undefined) return undefined;
  return {
    uid: o.uid, node: o.node!, claim: o.claim!, state: o.state === 'kept' ? 'kept' : 'connected',
    since: Number(o.since), keptUntil: Number(o.keptUntil), kind: o.kind === 'central' ? 'central' : 'object',
    group: o.group ?? '', peer: o.peer ?? '', tls: o.tls === '1', maxTransmissionLength: Number(o.mtl ?? 0),
  };
}
