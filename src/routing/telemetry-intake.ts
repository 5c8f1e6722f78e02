import type { Clock } from '../clock.js';
import { decodeDatagram } from '../protocol/index.js';
import { tokenKey, type TokenRegistry } from '../registry/token-registry.js';
import type { Router } from './router.js';

export type TelemetryDropReason = 'too-large' | 'bad-size' | 'unknown-token' | 'rate-limited';

export interface TelemetryIntakeOptions {
  readonly maxDatagramBytes: number;
  /** Datagrams per second and per token; the excess is dropped. */
  readonly maxPerSecPerToken: number;
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

/**
 * UDP telemetry policy (PROTOCOL §7): exact size, known unexpired token, per-token rate,
 * then the router. No I/O and no answers: a drop is only counted.
 */
export class TelemetryIntake {
  readonly #tokens: TokenRegistry;
  readonly #router: Router;
  readonly #clock: Clock;
  readonly #opts: TelemetryIntakeOptions;
  readonly #events: TelemetryIntakeEvents;
  // Fixed one-second window shared by all tokens: O(1) per datagram, and the map never
  // holds more than the tokens seen within one second.
  readonly #counts = new Map<string, number>();
  #windowStart = -Infinity;

  constructor(tokens: TokenRegistry, router: Router, clock: Clock, opts: TelemetryIntakeOptions, events: TelemetryIntakeEvents) {
    this.#tokens = tokens;
    this.#router = router;
    this.#clock = clock;
    this.#opts = opts;
    this.#events = events;
  }

  receive(msg: Buffer, peer: DatagramPeer): void {
    if (msg.length > this.#opts.maxDatagramBytes) return this.#events.dropped('too-large', peer);
    const dg = decodeDatagram(msg);
    if (!dg) return this.#events.dropped('bad-size', peer);
    const key = tokenKey(dg.token);
    const info = this.#tokens.lookup(key);
    if (!info) return this.#events.dropped('unknown-token', peer);
    if (!this.#withinRate(key)) return this.#events.dropped('rate-limited', peer, info.uid);
    const via = this.#router.telemetry(info.uid, dg.payload);
    if (via !== 'dropped') this.#events.accepted(info.uid, via); // the router counts 'no-central' itself
  }

  #withinRate(key: string): boolean {
    const now = this.#clock.now();
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#windowStart = now;
      this.#counts.clear();
    }
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n <= this.#opts.maxPerSecPerToken;
  }
}
