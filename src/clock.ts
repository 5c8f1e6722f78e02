/** Time as a replaceable dependency: every deadline in the daemon reads it, so tests never sleep. */
export interface TimerHandle {
  readonly id: unknown;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch: only for timestamps sent to others, never for deadlines. */
  epochMs(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { id: t };
  },
  clearTimeout(h: TimerHandle | undefined) {
    if (h) clearTimeout(h.id as NodeJS.Timeout);
  },
});

/** A clock that only moves when told: `advance(ms)` fires due timers in time order. */
export class ManualClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  readonly #epochStartMs: number;

  /** `epochStartMs`: the wall-clock time at now() = 0; fixed by default so tests never read the real date. */
  constructor(epochStartMs = Date.UTC(2026, 0, 1)) {
    this.#epochStartMs = epochStartMs;
  }

  now(): number {
    return this.#now;
  }

  epochMs(): number {
    return this.#epochStartMs + this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(h: TimerHandle | undefined): void {
    if (h) this.#timers.delete(h.id as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.#timers) if (t.at < nextAt || (t.at === nextAt && id < nextId)) { nextAt = t.at; nextId = id; }
      if (nextId < 0 || nextAt > target) break;
      const t = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
    }
    this.#now = target;
  }
}
