import type { Clock, TimerHandle } from '../clock.js';

/** What the sweep checks: a connection that pings its peer, or drops it, after a silence. */
export interface IdleWatched {
  /** Called once per period; `now` is the clock's time, `periodMs` the silence that earns a Ping. */
  idleCheck(now: number, periodMs: number): void;
}

/** Phases per period: a power of two, so that a period of whole milliseconds splits exactly. */
const SLOTS = 16;

/**
 * One timer for the idle checks of every connection of a host (tcp.pingIdleSec), instead of a
 * `Timeout`, its closure and its handle per connection (~290 bytes of heap each: issue 14).
 *
 * Each connection is checked once per period, as its own timer did, at a phase fixed when it
 * is added: the first slot boundary (period / 16) at or after that moment. So a silence of one
 * period is still noticed within the next period (a Ping after [period, 2 × period) of silence,
 * the drop one period after the Ping), and the checks of a fleet stay spread over the period
 * rather than all falling on one turn. The timer runs only while a connection is watched.
 */
export class IdleSweep {
  readonly #clock: Clock;
  readonly periodMs: number;
  readonly #slotMs: number;
  /** Slot boundaries count from here. */
  readonly #origin: number;
  readonly #buckets: Array<Set<IdleWatched>>;
  #size = 0;
  /** Index of the next slot boundary to check (its bucket is `#next % SLOTS`). */
  #next = 0;
  #timer: TimerHandle | undefined;
  readonly #onTimer = (): void => this.#fire();

  constructor(clock: Clock, periodMs: number) {
    if (!(periodMs > 0)) throw new RangeError(`idle period must be positive, got ${periodMs}`);
    this.#clock = clock;
    this.periodMs = periodMs;
    this.#slotMs = periodMs / SLOTS;
    this.#origin = clock.now();
    this.#buckets = Array.from({ length: SLOTS }, () => new Set<IdleWatched>());
  }

  /** Connections watched. */
  get size(): number {
    return this.#size;
  }

  add(c: IdleWatched): void {
    const slot = Math.ceil((this.#clock.now() - this.#origin) / this.#slotMs);
    const bucket = this.#buckets[slot % SLOTS]!;
    if (bucket.has(c)) return;
    bucket.add(c);
    if (this.#size++ === 0) {
      this.#next = slot;
      this.#arm();
    }
  }

  delete(c: IdleWatched): void {
    for (const bucket of this.#buckets) {
      if (!bucket.delete(c)) continue;
      if (--this.#size === 0) this.#disarm();
      return;
    }
  }

  /** Stops the timer (the host is closing); what is watched stays unchecked. */
  dispose(): void {
    this.#disarm();
    for (const bucket of this.#buckets) bucket.clear();
    this.#size = 0;
  }

  #arm(): void {
    const at = this.#origin + this.#next * this.#slotMs;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    // Every boundary passed since the last check (a late timer), but each bucket once at most: a
    // loop blocked for over a period must not ping and then drop a connection in the same turn.
    for (let n = 0; n < SLOTS && this.#origin + this.#next * this.#slotMs <= now; n++) {
      for (const c of this.#buckets[this.#next % SLOTS]!) c.idleCheck(now, this.periodMs);
      this.#next++;
    }
    if (this.#origin + this.#next * this.#slotMs <= now) this.#next = Math.floor((now - this.#origin) / this.#slotMs) + 1;
    if (this.#size > 0 && this.#timer === undefined) this.#arm();
  }
}
