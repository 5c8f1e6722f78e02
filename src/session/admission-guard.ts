import { isIPv4 } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

interface IpRecord {
  windowStart: number;
  failures: number;
  bannedUntil: number;
}

/** One source IP refused at initiation until `until` (ISO 8601, wall clock). */
export interface Ban {
  readonly ip: string;
  readonly until: string;
}

const MAPPED_V4 = '::ffff:';
/** Source IPs whose failures are remembered; the least recently seen beyond are forgotten. */
const MAX_IPS = 100_000;

/**
 * The forms one address takes in `socket.remoteAddress`: a dual-stack listener reports an
 * IPv4 peer as `::ffff:a.b.c.d`, so lifting `127.0.0.1` must lift that one too.
 */
function addressForms(ip: string): string[] {
  const lower = ip.toLowerCase();
  if (isIPv4(ip)) return [ip, MAPPED_V4 + ip];
  if (lower.startsWith(MAPPED_V4) && isIPv4(lower.slice(MAPPED_V4.length))) return [lower, lower.slice(MAPPED_V4.length)];
  return [lower];
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
  /**
   * Bounded by `maxSize` with a size of 1 per IP rather than by `max`: with `max`, lru-cache
   * allocates its index arrays for every slot up front (~2.7 MiB for 100 000, held from start by
   * every daemon, issue 14); this way they grow with the IPs that failed.
   */
  readonly #ips = new LRUCache<string, IpRecord>({ maxSize: MAX_IPS, sizeCalculation: () => 1 });
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
    const r = this.#ips.peek(ip);
    return r !== undefined && r.bannedUntil > this.#clock.now();
  }

  /** Records a failed authentication; the ban when this one starts it. */
  recordFailure(ip: string): Ban | undefined {
    const now = this.#clock.now();
    let r = this.#ips.get(ip);
    if (!r || now - r.windowStart >= 60_000) {
      r = { windowStart: now, failures: 0, bannedUntil: r?.bannedUntil ?? 0 };
      this.#ips.set(ip, r);
    }
    r.failures++;
    if (this.#banMs > 0 && r.failures >= this.#failuresPerMinute && r.bannedUntil <= now) {
      r.bannedUntil = now + this.#banMs;
      return this.#ban(ip, r);
    }
    return undefined;
  }

  /** The bans in force, sorted by IP. Reading them does not refresh an IP's place in the LRU. */
  bans(): Ban[] {
    const now = this.#clock.now();
    const out: Ban[] = [];
    for (const [ip, r] of this.#ips.entries()) if (r.bannedUntil > now) out.push(this.#ban(ip, r));
    return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }

  /**
   * Ends the ban on `ip` (in each form a socket may report it) and forgets its failures, so
   * the next failure does not ban again at once. False when it was not banned.
   */
  lift(ip: string): boolean {
    let lifted = false;
    for (const form of addressForms(ip)) {
      if (!this.isBanned(form)) continue;
      this.#ips.delete(form);
      lifted = true;
    }
    return lifted;
  }

  #ban(ip: string, r: IpRecord): Ban {
    const epoch = this.#clock.epochMs() + (r.bannedUntil - this.#clock.now());
    return { ip, until: new Date(epoch).toISOString() };
  }
}
