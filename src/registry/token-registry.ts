import { randomBytes } from 'node:crypto';
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
 * clock, so tests move time instead of sleeping. Bounded twice: per UID (a new token frees
 * the UID's oldest beyond TOKENS_PER_UID) and in all (`max`). A live token is never evicted
 * to make room: a full registry refuses to issue.
 * A Map, not an LRU cache: nothing is ever evicted by recency, and lru-cache allocates its
 * index arrays for `max` entries up front (300 000 with the shipped config: ~11 MiB held from
 * start, issue 14); a Map holds what is issued.
 */
export class TokenRegistry {
  readonly #tokens = new Map<string, TokenInfo>();
  /** Each UID's token keys, oldest first. */
  readonly #byUid = new Map<string, string[]>();
  readonly #clock: Clock;
  readonly #max: number;
  #purgedAt = -Infinity;

  constructor(clock: Clock, max: number) {
    this.#clock = clock;
    this.#max = max;
  }

  /** Tokens held, including expired ones not yet purged (see purgeExpired). */
  get size(): number {
    return this.#tokens.size;
  }

  /**
   * Issues a fresh token for `uid` (lifetime 0: no expiry), freeing the UID's tokens older than
   * the one it replaces. Undefined when the registry is full of live tokens: nothing is evicted.
   */
  issue(uid: string, group: string, lifetimeMs: number): { token: Buffer; info: TokenInfo } | undefined {
    const keys = this.#byUid.get(uid);
    while (keys && keys.length >= TOKENS_PER_UID) this.#tokens.delete(keys.shift()!);
    if (this.#tokens.size >= this.#max && !this.#makeRoom()) return undefined;
    const token = randomBytes(TOKEN_LENGTH);
    const key = tokenKey(token);
    const info: TokenInfo = { uid, group, expiresAt: lifetimeMs > 0 ? this.#clock.now() + lifetimeMs : Infinity };
    this.#tokens.set(key, info);
    const list = this.#byUid.get(uid);
    if (list) list.push(key);
    else this.#byUid.set(uid, [key]);
    return { token, info };
  }

  /** The object a valid token belongs to, or undefined (unknown or expired). `key`: tokenKey(token). */
  lookup(key: string): TokenInfo | undefined {
    const info = this.#tokens.get(key);
    if (info && info.expiresAt <= this.#clock.now()) {
      this.#delete(key, info);
      return undefined;
    }
    return info;
  }

  /** Frees every expired token; returns how many went. */
  purgeExpired(): number {
    const now = this.#clock.now();
    const before = this.#tokens.size;
    this.#purgedAt = now;
    for (const [key, info] of this.#tokens) if (info.expiresAt <= now) this.#delete(key, info);
    return before - this.#tokens.size;
  }

  /** Revokes every token of `uid` (removed from the ACL). */
  revoke(uid: string): number {
    const keys = this.#byUid.get(uid);
    if (!keys) return 0;
    for (const key of keys) this.#tokens.delete(key);
    this.#byUid.delete(uid);
    return keys.length;
  }

  clear(): void {
    this.#tokens.clear();
    this.#byUid.clear();
  }

  #makeRoom(): boolean {
    if (this.#clock.now() - this.#purgedAt >= PURGE_INTERVAL_MS) this.purgeExpired();
    return this.#tokens.size < this.#max;
  }

  /** Frees one token, and its place in its UID's list. */
  #delete(key: string, info: TokenInfo): void {
    this.#tokens.delete(key);
    const keys = this.#byUid.get(info.uid);
    if (!keys) return;
    const i = keys.indexOf(key);
    if (i >= 0) keys.splice(i, 1);
    if (keys.length === 0) this.#byUid.delete(info.uid);
  }
}

/** A token as a map key (8 bytes as 8 latin1 characters): made once per datagram, then reused. */
export function tokenKey(token: Buffer): string {
  return token.toString('latin1');
}
