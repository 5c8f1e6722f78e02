/** Options of {@link TakeoverBackoff}. */
export interface TakeoverBackoffOptions {
  /** Delay ceiling after the first takeover; doubled after each further one. */
  readonly firstMs: number;
  readonly maxMs: number;
  /** A session that lasted this long ends the streak: the next takeover starts again from `firstMs`. */
  readonly stableMs: number;
  readonly now: () => number;
  /** In [0, 1); Math.random by default. */
  readonly random: () => number;
}

/**
 * When to come back after a takeover (Close 0xA1, PROTOCOL §3 step 7: another connection
 * authenticated with our UID). Reconnecting at once would take the session back, and two
 * clients sharing a UID would evict each other many times a second; so each takeover in a
 * row doubles the delay (jittered in [ceiling/2, ceiling]), until a session lasts `stableMs`.
 */
export class TakeoverBackoff {
  readonly #o: TakeoverBackoffOptions;
  #streak = 0;
  #openedAt: number | undefined;

  constructor(opts: TakeoverBackoffOptions) {
    this.#o = opts;
  }

  /** Takeovers in a row so far. */
  get streak(): number {
    return this.#streak;
  }

  /** A session opened (now). */
  opened(): void {
    this.#openedAt = this.#o.now();
  }

  /** The session was taken over: the delay before reconnecting, in ms. */
  takenOver(): number {
    const { firstMs, maxMs, stableMs, now, random } = this.#o;
    if (this.#openedAt !== undefined && now() - this.#openedAt >= stableMs) this.#streak = 0;
    this.#openedAt = undefined;
    this.#streak++;
    const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(this.#streak - 1, 30));
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }
}
