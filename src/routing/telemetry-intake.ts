import type { Clock } from '../clock.js';
import { decodeDatagram, type Payload } from '../protocol/index.js';
import { tokenKey, type TokenInfo } from '../registry/token-registry.js';
import { ASK, type TokenStore } from '../registry/token-store.js';
import type { Router } from './router.js';

export type TelemetryDropReason =
  | 'too-large' | 'bad-size' | 'unknown-token' | 'rate-limited' | 'token-store-unavailable' | 'token-store-busy';

/** Datagrams waiting for the token store at most (each its payload held): beyond, a flood is dropped, not queued. */
export const MAX_WAITING_DATAGRAMS = 1024;

export interface TelemetryIntakeOptions {
  readonly maxDatagramBytes: number;
  /** Datagrams per second and per token; the excess is dropped. */
  readonly maxPerSecPerToken: number;
  /** Datagrams waiting for a token lookup at most (default MAX_WAITING_DATAGRAMS). */
  readonly maxWaiting?: number;
}

/** Where a datagram came from; only read when it is dropped (a debug log line). */
export interface DatagramPeer {
  readonly address: string;
  readonly port: number;
}

export interface TelemetryIntakeEvents {
  accepted(uid: string, via: 'central' | 'webhook'): void;
  dropped(reason: TelemetryDropReason, peer: DatagramPeer, uid?: string): void;
}

const WINDOW_MS = 1_000;

interface Waiting {
  readonly payload: Payload;
  readonly peer: DatagramPeer;
}

/**
 * UDP telemetry policy (PROTOCOL §7): exact size, known unexpired token, per-token rate,
 * then the router. No answers: a drop is only counted.
 *
 * The token is checked with the store's peek(), synchronous: the memory engine always answers
 * there (no promise, no allocation per datagram). Only a token this node does not know yet
 * (a shared engine's cache miss) waits for lookup(); datagrams of that token arriving meanwhile
 * wait behind the first, so one token's datagrams reach the router in the order they arrived,
 * whatever order the store answers in. At most `maxWaiting` datagrams wait in all.
 */
export class TelemetryIntake {
  readonly #tokens: TokenStore;
  readonly #router: Router;
  readonly #clock: Clock;
  readonly #opts: TelemetryIntakeOptions;
  readonly #events: TelemetryIntakeEvents;
  readonly #maxWaiting: number;
  // Fixed one-second window shared by all tokens: O(1) per datagram, and the map never
  // holds more than the tokens seen within one second.
  readonly #counts = new Map<string, number>();
  #windowStart = -Infinity;
  /** Per token key being looked up: the datagrams waiting for its answer, in arrival order. */
  readonly #waiting = new Map<string, Waiting[]>();
  #waitingCount = 0;

  constructor(tokens: TokenStore, router: Router, clock: Clock, opts: TelemetryIntakeOptions, events: TelemetryIntakeEvents) {
    this.#tokens = tokens;
    this.#router = router;
    this.#clock = clock;
    this.#opts = opts;
    this.#events = events;
    this.#maxWaiting = opts.maxWaiting ?? MAX_WAITING_DATAGRAMS;
  }

  /** Datagrams waiting for the token store. */
  get waiting(): number {
    return this.#waitingCount;
  }

  receive(msg: Buffer, peer: DatagramPeer): void {
    if (msg.length > this.#opts.maxDatagramBytes) return this.#events.dropped('too-large', peer);
    const dg = decodeDatagram(msg);
    if (!dg) return this.#events.dropped('bad-size', peer);
    const key = tokenKey(dg.token);
    // Behind an earlier datagram of its token that waits for the store: keeps their order.
    if (this.#waitingCount > 0) {
      const queue = this.#waiting.get(key);
      if (queue) return this.#wait(queue, dg.payload, peer);
    }
    const now = this.#clock.now();
    const info = this.#tokens.peek(key, now);
    if (info === ASK) return this.#ask(key, dg.payload, peer, now);
    this.#pass(key, info, dg.payload, peer, now);
  }

  #pass(key: string, info: TokenInfo | undefined, payload: Payload, peer: DatagramPeer, now: number): void {
    if (!info) return this.#events.dropped('unknown-token', peer);
    if (!this.#withinRate(key, now)) return this.#events.dropped('rate-limited', peer, info.uid);
    const via = this.#router.telemetry(info.uid, payload);
    if (via !== 'dropped') this.#events.accepted(info.uid, via); // the router counts 'no-central' itself
  }

  #wait(queue: Waiting[], payload: Payload, peer: DatagramPeer): void {
    if (this.#waitingCount >= this.#maxWaiting) return this.#events.dropped('token-store-busy', peer);
    queue.push({ payload, peer });
    this.#waitingCount++;
  }

  #ask(key: string, payload: Payload, peer: DatagramPeer, now: number): void {
    if (this.#waitingCount >= this.#maxWaiting) return this.#events.dropped('token-store-busy', peer);
    const queue: Waiting[] = [{ payload, peer }];
    this.#waiting.set(key, queue);
    this.#waitingCount++;
    let answer: Promise<TokenInfo | undefined>;
    try {
      answer = this.#tokens.lookup(key, now);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (info) => {
        const later = this.#clock.now();
        for (const w of this.#release(key, queue)) this.#pass(key, info && info.expiresAt > later ? info : undefined, w.payload, w.peer, later);
      },
      () => {
        for (const w of this.#release(key, queue)) this.#events.dropped('token-store-unavailable', w.peer);
      },
    );
  }

  #release(key: string, queue: Waiting[]): Waiting[] {
    this.#waiting.delete(key);
    this.#waitingCount -= queue.length;
    return queue;
  }

  #withinRate(key: string, now: number): boolean {
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#windowStart = now;
      this.#counts.clear();
    }
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n <= this.#opts.maxPerSecPerToken;
  }
}
