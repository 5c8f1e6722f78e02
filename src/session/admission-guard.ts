import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

interface IpRecord {
  windowStart: number;
  failures: number;
  bannedUntil: number;
}

/**
 * Cheap checks made before any HMAC work: an accept-rate bucket for the whole listener and a
 * failed-authentication counter per source IP (bounded: least recently seen IPs are forgotten).
 */
export class AdmissionGuard {
  readonly #clock: Clock;
  readonly #failuresPerMinute: number;
  readonly #banMs: number;
  readonly #acceptPerSec: number;
  readonly #ips = new LRUCache<string, IpRecord>({ max: 100_000 });
  #tokens: number;
  #refilledAt: number;

  constructor(clock: Clock, opts: { failuresPerMinute: number; banSec: number; acceptPerSec: number }) {
    this.#clock = clock;
    this.#failuresPerMinute = opts.failuresPerMinute;
    this.#banMs = opts.banSec * 1000;
    this.#acceptPerSec = opts.acceptPerSec;
    this.#tokens = opts.acceptPerSec;
    this.#refilledAt = clock.now();
  }

  /** Token bucket of `acceptPerSec`, burst of one second's worth. */
  takeAccept(): boolean {
    const now = this.#clock.now();
    const rate = this.#acceptPerSec;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  isBanned(ip: string): boolean {
    const r = this.#ips.get(ip);
    return r !== undefined && r.bannedUntil > this.#clock.now();
  }

  /** Records a failed authentication; true when this one starts a ban. */
  recordFailure(ip: string): boolean {
    const now = this.#clock.now();
    let r = this.#ips.get(ip);
    if (!r || now - r.windowStart >= 60_000) {
      r = { windowStart: now, failures: 0, bannedUntil: r?.bannedUntil ?? 0 };
      this.#ips.set(ip, r);
    }
    r.failures++;
    if (r.failures >= this.#failuresPerMinute && r.bannedUntil <= now) {
      r.bannedUntil = now + this.#banMs;
      return true;
    }
    return false;
  }
}
