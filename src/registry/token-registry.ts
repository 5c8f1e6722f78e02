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

/**
 * Telemetry tokens (PROTOCOL §7): 8 random bytes → object. Expiry follows the injected
 * clock (lru-cache's `perf` hook), so tests move time instead of sleeping. Bounded: the
 * least recently used token goes first if `max` is ever reached.
 */
export class TokenRegistry {
  readonly #cache: LRUCache<string, TokenInfo>;
  readonly #byUid = new Map<string, Set<string>>();
  readonly #clock: Clock;

  constructor(clock: Clock, max: number) {
    this.#clock = clock;
    this.#cache = new LRUCache<string, TokenInfo>({
      max,
      ttlAutopurge: false,
      // 0: no cached "now" (lru-cache would arm a real timer on every lookup and miss clock jumps).
      ttlResolution: 0,
      perf: { now: () => clock.now() },
      dispose: (info, key) => this.#forget(info.uid, key),
    });
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Issues a fresh token for `uid`; lifetime 0 means no expiry. */
  issue(uid: string, group: string, lifetimeMs: number): { token: Buffer; info: TokenInfo } {
    const token = randomBytes(TOKEN_LENGTH);
    const key = tokenKey(token);
    const info: TokenInfo = { uid, group, expiresAt: lifetimeMs > 0 ? this.#clock.now() + lifetimeMs : Infinity };
    this.#cache.set(key, info, lifetimeMs > 0 ? { ttl: lifetimeMs } : {});
    let set = this.#byUid.get(uid);
    if (!set) this.#byUid.set(uid, (set = new Set()));
    set.add(key);
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

  /** Revokes every token of `uid` (removed from the ACL). */
  revoke(uid: string): number {
    const set = this.#byUid.get(uid);
    if (!set) return 0;
    const n = set.size;
    for (const key of [...set]) this.#cache.delete(key);
    this.#byUid.delete(uid);
    return n;
  }

  clear(): void {
    this.#cache.clear();
    this.#byUid.clear();
  }

  #forget(uid: string, key: string): void {
    const set = this.#byUid.get(uid);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) this.#byUid.delete(uid);
  }
}

/** A token as a map key (8 bytes as 8 latin1 characters): made once per datagram, then reused. */
export function tokenKey(token: Buffer): string {
  return token.toString('latin1');
}
