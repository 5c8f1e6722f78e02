import type { Clock } from '../clock.js';
import { ToT } from '../protocol/index.js';
import type { Session, SessionLink } from '../registry/session.js';
import type { TokenRegistry } from '../registry/token-registry.js';

/** After a token was refused (a registry full of live tokens), the next try for that connected object. */
export const TOKEN_RETRY_MS = 60_000;

export interface TokenIssuerOptions {
  /** Per group: whether its objects send telemetry, and their tokens' lifetime in minutes (0: no expiry). */
  readonly groups: Readonly<Record<string, { readonly telemetry: boolean; readonly telemetryTokenExpMin: number }>>;
}

export interface TokenIssuerEvents {
  /** No token could be issued: the registry is full of live tokens (none is evicted). */
  refused(uid: string, held: number): void;
}

/**
 * PROTOCOL §7: a token on every authentication of a telemetry group's object, renewed at 80 % of
 * its lifetime while the same connection lasts. A full registry issues none: the object gets no
 * ToT 5, keeps the tokens it has, and is tried again TOKEN_RETRY_MS later while connected.
 */
export class TokenIssuer {
  readonly #tokens: TokenRegistry;
  readonly #clock: Clock;
  readonly #opts: TokenIssuerOptions;
  readonly #events: TokenIssuerEvents;

  constructor(tokens: TokenRegistry, clock: Clock, opts: TokenIssuerOptions, events: TokenIssuerEvents) {
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
    const issued = this.#tokens.issue(s.uid, s.group, lifetimeMs);
    if (issued) link.send({ type: ToT.TOKEN, token: issued.token });
    else this.#events.refused(s.uid, this.#tokens.size);
    this.#clock.clearTimeout(s.tokenTimer);
    const nextMs = !issued ? TOKEN_RETRY_MS : lifetimeMs > 0 ? lifetimeMs * 0.8 : 0;
    s.tokenTimer = nextMs > 0
      ? this.#clock.setTimeout(() => { if (s.link === link && s.state === 'connected') this.issue(s, link); }, nextMs)
      : undefined;
  }
}
