import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { TOKEN_LENGTH } from '../protocol/index.js';

export interface TokenInfo {
  readonly uid: string;
  readonly group: string;
  /** Clock ms; Infinity when the group's tokens never expire. */
  readonly expiresAt: number;
}

/** PROTOCOL §7: the current token and the one it replaced (still valid until its own expiry). */
const TOKENS_PER_UID = 2;
/** A full registry looks for expired tokens to free at most this often (the scan is O(n)). */
const PURGE_INTERVAL_MS = 1_000;

/**
 * Telemetry tokens (PROTOCOL §7): 8 random bytes → object. Expiry follows the injected
 * clock (lru-cache's `perf` hook), so tests move time instead of sleeping. Bounded twice:
 * per UID (a new token frees the UID's oldest beyond TOKENS_PER_UID) and in all (`max`).
 * A live token is never evicted to make room: a full registry refuses to issue.
 */
export class TokenRegistry {
  readonly #cache: LRUCache<string, TokenInfo>;
  /** Each UID's token keys, oldest first. */
  readonly #byUid = new Map<string, string[]>();
  readonly #clock: Clock;
  readonly #max: number;
  #purgedAt = -Infinity;

  constructor(clock: Clock, max: number) {
    this.#clock = clock;
    this.#max = max;
    this.#cache = new LRUCache<string, TokenInfo>({
      max, // never reached by a set: issue() refuses first
      ttlAutopurge: false,
      // 0: no cached "now" (lru-cache would arm a real timer on every lookup and miss clock jumps).
      ttlResolution: 0,
      perf: { now: () => clock.now() },
      dispose: (info, key) => this.#forget(info.uid, key),
    });
  }

  /** Tokens held, including expired ones not yet purged (see purgeExpired). */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * Issues a fresh token for `uid` (lifetime 0: no expiry), freeing the UID's tokens older than
   * the one it replaces. Undefined when the registry is full of live tokens: nothing is evicted.
   */
  issue(uid: string, group: string, lifetimeMs: number): { token: Buffer; info: TokenInfo } | undefined {
    const keys = this.#byUid.get(uid);
    while (keys && keys.length >= TOKENS_PER_UID) this.#cache.delete(keys.shift()!);
    if (this.#cache.size >= this.#max && !this.#makeRoom()) return undefined;
    const token = randomBytes(TOKEN_LENGTH);
    const key = tokenKey(token);
    const info: TokenInfo = { uid, group, expiresAt: lifetimeMs > 0 ? this.#clock.now() + lifetimeMs : Infinity };
    this.#cache.set(key, info, lifetimeMs > 0 ? { ttl: lifetimeMs } : {});
    const list = this.#byUid.get(uid);
    if (list) list.push(key);
    else this.#byUid.set(uid, [key]);
    return { token, info };
  }

  /** The object a valid token belongs to, or undefined (unknown or expired). `key`: tokenKey(token). */
  lookup(key: string): TokenInfo | undefined {
    const info = this.#cache.get(key, { updateAgeOnGet: false });
    // Checked here too: lru-cache treats an entry set at clock time 0 as never stale.
    if (info && info.expiresAt <= this.#clock.now()) {
      this.#cache.delete(key);
      return undefined;
    }
    return info;
  }

  /** Frees every expired token; returns how many went. */
  purgeExpired(): number {
    const now = this.#clock.now();
    const before = this.#cache.size;
    this.#purgedAt = now;
    this.#cache.purgeStale();
    // entries() skips what lru-cache sees as stale; it does not see an entry set at clock time 0 so.
    for (const [key, info] of this.#cache.entries()) if (info.expiresAt <= now) this.#cache.delete(key);
    return before - this.#cache.size;
  }

  /** Revokes every token of `uid` (removed from the ACL). */
  revoke(uid: string): number {
    const keys = this.#byUid.get(uid);
    if (!keys) return 0;
    const n = keys.length;
    for (const key of [...keys]) this.#cache.delete(key);
    this.#byUid.delete(uid);
    return n;
  }

  clear(): void {
    this.#cache.clear();
    this.#byUid.clear();
  }

  #makeRoom(): boolean {
    if (this.#clock.now() - this.#purgedAt >= PURGE_INTERVAL_MS) this.purgeExpired();
    return this.#cache.size < this.#max;
  }

  #forget(uid: string, key: string): void {
    const keys = this.#byUid.get(uid);
    if (!keys) return;
    const i = keys.indexOf(key);
    if (i >= 0) keys.splice(i, 1);
    if (keys.length === 0) this.#byUid.delete(uid);
  }
}

/** A token as a map key (8 bytes as 8 latin1 characters): made once per datagram, then reused. */
export function tokenKey(token: Buffer): string {
  return token.toString('latin1');
}
