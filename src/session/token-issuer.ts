import type { Clock } from '../clock.js';
import { ToT } from '../protocol/index.js';
import type { Session, SessionLink } from '../registry/session.js';
import type { IssuedToken, TokenStore } from '../registry/token-store.js';

/** After a token was refused (a store full of live tokens, or away), the next try for that connected object. */
export const TOKEN_RETRY_MS = 60_000;

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
  /** The store rejected an issue (its engine is away): reported once per outage, retried like a refusal. */
  unavailable(uid: string, err: unknown): void;
}

/**
 * PROTOCOL §7: a token on every authentication of a telemetry group's object, renewed at 80 % of
 * its lifetime while the same connection lasts. A full store issues none: the object gets no
 * ToT 5, keeps the tokens it has, and is tried again TOKEN_RETRY_MS later while connected.
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
    const lifetimeMs = group.telemetryTokenExpMin * 60_000;
    let pending: Promise<IssuedToken | undefined>;
    try {
      pending = this.#tokens.issue(s.uid, s.group, lifetimeMs, this.#clock.now());
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (issued) => this.#issued(s, link, lifetimeMs, issued),
      (err: unknown) => this.#failed(s, link, err),
    );
  }

  #issued(s: Session, link: SessionLink, lifetimeMs: number, issued: IssuedToken | undefined): void {
    this.#away = false;
    if (!isCurrent(s, link)) return;
    if (issued) {
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

  #failed(s: Session, link: SessionLink, err: unknown): void {
    if (!this.#away) this.#events.unavailable(s.uid, err);
    this.#away = true;
    if (isCurrent(s, link)) this.#next(s, link, TOKEN_RETRY_MS);
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
