import type { Clock } from '../clock.js';
import { ToT } from '../protocol/index.js';
import { tokenKey } from '../registry/token-registry.js';
import type { Session, SessionLink } from '../registry/session.js';
import type { IssuedToken, TokenStore } from '../registry/token-store.js';

/** After a token was refused (a store full of live tokens), the next try for that connected object. */
export const TOKEN_RETRY_MS = 60_000;
/**
 * After the store was away: the first retry, doubling up to the second. A renewal runs at 80 % of
 * the lifetime, so a retry must come well within the last 20 % (6 s of a 30 s token): the old token
 * expires at its own time whatever happens here.
 */
export const UNAVAILABLE_RETRY_MS = 1_000;
export const UNAVAILABLE_RETRY_MAX_MS = 8_000;

export interface TokenIssuerOptions {
  /** Per group: whether its objects send telemetry, and their tokens' lifetime in minutes (0: no expiry). */
  readonly groups: Readonly<Record<string, { readonly telemetry: boolean; readonly telemetryTokenExpMin: number }>>;
}

export interface TokenIssuerEvents {
  /**
   * No token could be issued: the store is full of live tokens (none is evicted). `held`: the
   * store's size, read only on a refusal (one more round trip for a shared engine, at most once
   * per connected object and TOKEN_RETRY_MS); undefined when that read failed.
   */
  refused(uid: string, held: number | undefined): void;
  /** The store rejected an issue (its engine is away): reported once per outage, retried soon (UNAVAILABLE_RETRY_MS, doubling). */
  unavailable(uid: string, err: unknown): void;
  /** The store came back and no longer held the current token of `count` connected objects (lost in a restart): each got a new one. */
  reissued?(count: number): void;
}

/** What this node last sent a connected object, for the check after the store was away. */
interface Held {
  readonly link: SessionLink;
  /** tokenKey of the token last sent; undefined: none yet. */
  key: string | undefined;
  /** Issues that failed in a row because the store was away (0: the last one answered). */
  failures: number;
  issuing: boolean;
}

/**
 * PROTOCOL §7: a token on every authentication of a telemetry group's object, renewed at 80 % of
 * its lifetime while the same connection lasts. A full store issues none: the object gets no
 * ToT 5, keeps the tokens it has, and is tried again TOKEN_RETRY_MS later while connected. A store
 * that is away is tried again within seconds, so that a renewal missed during an outage still
 * lands before the old token expires; and once it is back (`verify`), an object whose current
 * token it no longer holds (a Redis restart that lost its last writes) gets a new one at once —
 * a device cannot tell: datagrams with an unknown token are dropped without an answer.
 * The issue is asynchronous (a shared store is a round trip away): what it answers only reaches
 * the connection that asked, if it is still the session's; one that closed meanwhile gets no
 * token and no timer.
 */
export class TokenIssuer {
  readonly #tokens: TokenStore;
  readonly #clock: Clock;
  readonly #opts: TokenIssuerOptions;
  readonly #events: TokenIssuerEvents;
  /** Set by a rejected issue, cleared by the next one that succeeds: an outage is reported once. */
  #away = false;
  readonly #held = new WeakMap<Session, Held>();

  constructor(tokens: TokenStore, clock: Clock, opts: TokenIssuerOptions, events: TokenIssuerEvents) {
    this.#tokens = tokens;
    this.#clock = clock;
    this.#opts = opts;
    this.#events = events;
  }

  /** Called once a connection is bound to its session. */
  issue(s: Session, link: SessionLink): void {
    const group = this.#opts.groups[s.group];
    if (s.kind !== 'object' || !group?.telemetry) return;
    let held = this.#held.get(s);
    if (held?.link !== link) this.#held.set(s, (held = { link, key: undefined, failures: 0, issuing: false }));
    held.issuing = true;
    const lifetimeMs = group.telemetryTokenExpMin * 60_000;
    let pending: Promise<IssuedToken | undefined>;
    try {
      pending = this.#tokens.issue(s.uid, s.group, lifetimeMs, this.#clock.now());
    } catch (err) {
      pending = Promise.reject(err);
    }
    const h = held;
    pending.then(
      (issued) => this.#issued(s, link, h, lifetimeMs, issued),
      (err: unknown) => this.#failed(s, link, h, err),
    );
  }

  /**
   * The store answers again after it was away: each connected object whose last issue failed is
   * tried now, and each whose current token the store no longer holds gets a new one. One round
   * trip for all (the store's `known`); rejects quietly when the store is away again (the next
   * return checks again).
   */
  async verify(sessions: Iterable<Session>): Promise<void> {
    const check: Array<{ s: Session; h: Held; key: string }> = [];
    for (const s of sessions) {
      const h = this.#held.get(s);
      if (!h || h.issuing || !isCurrent(s, h.link)) continue;
      if (h.failures > 0 || h.key === undefined) this.issue(s, h.link);
      else check.push({ s, h, key: h.key });
    }
    if (check.length === 0) return;
    let known: boolean[];
    try {
      known = await this.#tokens.known(check.map((c) => c.key));
    } catch {
      return;
    }
    let reissued = 0;
    check.forEach(({ s, h, key }, i) => {
      if (known[i] || h.issuing || h.key !== key || !isCurrent(s, h.link)) return;
      reissued++;
      this.issue(s, h.link);
    });
    if (reissued > 0) this.#events.reissued?.(reissued);
  }

  #issued(s: Session, link: SessionLink, h: Held, lifetimeMs: number, issued: IssuedToken | undefined): void {
    this.#away = false;
    h.issuing = false;
    h.failures = 0;
    if (!isCurrent(s, link)) return;
    if (issued) {
      h.key = tokenKey(issued.token);
      link.send({ type: ToT.TOKEN, token: issued.token });
      this.#next(s, link, lifetimeMs > 0 ? lifetimeMs * 0.8 : 0);
      return;
    }
    this.#next(s, link, TOKEN_RETRY_MS);
    this.#tokens.size.then(
      (held) => this.#events.refused(s.uid, held),
      () => this.#events.refused(s.uid, undefined),
    );
  }

  #failed(s: Session, link: SessionLink, h: Held, err: unknown): void {
    if (!this.#away) this.#events.unavailable(s.uid, err);
    this.#away = true;
    h.issuing = false;
    const wait = Math.min(UNAVAILABLE_RETRY_MS * 2 ** h.failures, UNAVAILABLE_RETRY_MAX_MS);
    h.failures++;
    if (isCurrent(s, link)) this.#next(s, link, wait);
  }

  #next(s: Session, link: SessionLink, ms: number): void {
    this.#clock.clearTimeout(s.tokenTimer);
    s.tokenTimer = ms > 0
      ? this.#clock.setTimeout(() => { if (isCurrent(s, link)) this.issue(s, link); }, ms)
      : undefined;
  }
}

/** The connection that asked is still the session's: what the store answered may be sent to it. */
function isCurrent(s: Session, link: SessionLink): boolean {
  return s.link === link && s.state === 'connected';
}
