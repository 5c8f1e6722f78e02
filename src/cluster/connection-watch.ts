import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { EngineReachability } from './engines.js';

/** Redis refused the credentials: retrying cannot help, so a start fails at once. */
const REFUSED = /^(WRONGPASS|NOAUTH|NOPERM|ERR AUTH|ERR invalid password|ERR Client sent AUTH)/;

/** The server's certificate is not trusted (Node's TLS codes): no retry makes it trusted either. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export type OpenFailure = { readonly kind: 'refused' | 'untrusted' | 'timeout'; readonly reason: string };

/**
 * Whether a set of connections to one Redis is usable: 'reachable' while every one is ready
 * (ioredis 'ready'; any 'close' or 'end' makes it 'unreachable' until its reconnect is ready
 * again). Listeners hear each change, until `mute()`.
 */
export class ConnectionWatch {
  readonly #conns: readonly Redis[];
  readonly #listeners = new Set<(r: EngineReachability) => void>();
  readonly #off: Array<() => void> = [];
  #state: EngineReachability = 'unreachable';
  #lastError: Error | undefined;
  #muted = false;

  constructor(conns: readonly Redis[]) {
    this.#conns = conns;
    for (const c of conns) {
      const recompute = () => this.#recompute();
      const onError = (err: Error) => { this.#lastError = err; };
      for (const ev of ['ready', 'close', 'end']) c.on(ev, recompute);
      c.on('error', onError); // stays: also keeps ioredis from printing every failed reconnect
      this.#off.push(() => { for (const ev of ['ready', 'close', 'end']) c.off(ev, recompute); });
    }
  }

  get state(): EngineReachability {
    return this.#state;
  }

  /** The last error a connection reported (why it is unreachable), if any. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  on(fn: (r: EngineReachability) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Connects every connection; resolves once all are ready. Resolves to a failure, never hangs:
   * 'refused' as soon as Redis refuses the credentials, 'untrusted' as soon as its certificate
   * fails verification, 'timeout' after `ms` (with the last error seen). The connections keep retrying after a failure: the caller closes them.
   */
  open(clock: Clock, ms: number): Promise<OpenFailure | undefined> {
    for (const c of this.#conns) if (c.status === 'wait') c.connect().catch(() => {}); // the reason comes as 'error'
    return new Promise((resolve) => {
      const done = (f: OpenFailure | undefined) => {
        clock.clearTimeout(timer);
        for (const off of offs) off();
        resolve(f);
      };
      const check = () => { if (this.#allReady()) done(undefined); };
      const onError = (err: Error & { code?: string }) => {
        if (REFUSED.test(err.message)) done({ kind: 'refused', reason: err.message });
        else if (err.code !== undefined && UNTRUSTED.has(err.code)) done({ kind: 'untrusted', reason: err.message });
      };
      const offs = this.#conns.map((c) => {
        c.on('ready', check);
        c.on('error', onError);
        return () => { c.off('ready', check); c.off('error', onError); };
      });
      const timer = clock.setTimeout(() => done({ kind: 'timeout', reason: this.#lastError?.message ?? 'no answer' }), ms);
      check();
    });
  }

  /** No more notifications: a closing engine's disconnects are no news. */
  mute(): void {
    this.#muted = true;
    for (const off of this.#off.splice(0)) off();
  }

  #allReady(): boolean {
    return this.#conns.every((c) => c.status === 'ready');
  }

  #recompute(): void {
    const next: EngineReachability = this.#allReady() ? 'reachable' : 'unreachable';
    if (next === this.#state || this.#muted) return;
    this.#state = next;
    if (next === 'reachable') this.#lastError = undefined; // a later outage reports its own reason
    for (const fn of this.#listeners) fn(next);
  }
}
