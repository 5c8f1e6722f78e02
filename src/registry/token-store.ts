import { TokenRegistry, type TokenInfo } from './token-registry.js';

export type { TokenInfo } from './token-registry.js';

export interface IssuedToken {
  readonly token: Buffer;
  readonly info: TokenInfo;
}

/** What peek() answers when only the engine knows: ask lookup(). */
export const ASK = Symbol('ask the engine');

/**
 * Telemetry tokens, fleet-wide (PROTOCOL §7, CLUSTER.md guarantee 6): a token issued at any node
 * is valid at every node's UDP port; revoking a UID's tokens drops them everywhere. The rules of
 * TokenRegistry hold in every engine: at most two tokens per UID (the current one and the one it
 * replaced; a new one frees the older), a full store refuses to issue rather than evict a live
 * token, an expired token is gone. `key` is tokenKey(token); `now` is this node's clock.
 */
export interface TokenStore {
  /** A fresh token for `uid` (lifetime 0: no expiry); undefined when the store is full of live tokens. */
  issue(uid: string, group: string, lifetimeMs: number, now: number): Promise<IssuedToken | undefined>;
  /**
   * The UDP hot path: what this node knows without a round trip — the token's info, undefined
   * (known not valid), or ASK (only the engine knows: call lookup). The memory engine always knows.
   */
  peek(key: string, now: number): TokenInfo | undefined | typeof ASK;
  /** The token's info, or undefined (unknown, expired, revoked or replaced); rejects when the engine is away (drop the datagram). */
  lookup(key: string, now: number): Promise<TokenInfo | undefined>;
  /** Revokes every token of `uid` at every node; returns how many there were. */
  revoke(uid: string): Promise<number>;
  /** Which of `keys` the engine holds now, asked of the engine itself (no cache): the check after it was away. */
  known(keys: readonly string[]): Promise<boolean[]>;
  /**
   * Calls `fn` each time the engine answers again after it was away: it may have lost what it
   * held (a restart that lost its last writes). The memory engine is never away and never calls it.
   */
  onBack?(fn: () => void): void;
  /** Tokens held in all (an engine shared by nodes may count approximately: see its notes). */
  readonly size: Promise<number>;
  close(): Promise<void>;
}

/**
 * The in-memory store: one TokenRegistry (its clock is the daemon's), shared by the stores of
 * every node of one process (the single node, or several in a test). `now` is that clock's time.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #r: TokenRegistry;

  constructor(registry: TokenRegistry) {
    this.#r = registry;
  }

  async issue(uid: string, group: string, lifetimeMs: number): Promise<IssuedToken | undefined> {
    return this.#r.issue(uid, group, lifetimeMs);
  }

  peek(key: string, now: number): TokenInfo | undefined {
    const info = this.#r.lookup(key);
    return info && info.expiresAt > now ? info : undefined;
  }

  async lookup(key: string, now: number): Promise<TokenInfo | undefined> {
    return this.peek(key, now);
  }

  async revoke(uid: string): Promise<number> {
    return this.#r.revoke(uid);
  }

  async known(keys: readonly string[]): Promise<boolean[]> {
    return keys.map((k) => this.#r.lookup(k) !== undefined);
  }

  get size(): Promise<number> {
    return Promise.resolve(this.#r.size);
  }

  async close(): Promise<void> {}
}
