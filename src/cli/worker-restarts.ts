/**
 * When the primary restarts a worker that died: after `firstDelayMs` the first time, then with a doubling
 * delay while the deaths come quickly one after the other (a worker that cannot stay up must
 * not be restarted in a tight loop), and not at all after `maxQuickDeaths` in a row: the
 * primary then stops every worker and exits (a supervisor such as systemd takes over).
 * A worker that stayed up `stableMs` clears its slot's record.
 */
export interface RestartPolicyOptions {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** Up at least this long before dying: a death not counted against the slot. */
  readonly stableMs: number;
  readonly maxQuickDeaths: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { firstDelayMs: 100, maxDelayMs: 10_000, stableMs: 30_000, maxQuickDeaths: 10 };

export type RestartDecision = { readonly restart: true; readonly delayMs: number; readonly quickDeaths: number } | { readonly restart: false; readonly quickDeaths: number };

export class RestartPolicy {
  readonly #o: RestartPolicyOptions;
  /** Quick deaths in a row, per worker slot (index). */
  readonly #quick = new Map<number, number>();

  constructor(opts: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {
    this.#o = opts;
  }

  /** Worker `slot` died after being up `upMs` (0 when it never got ready): restart it, and when? */
  died(slot: number, upMs: number): RestartDecision {
    const quickDeaths = upMs >= this.#o.stableMs ? 1 : (this.#quick.get(slot) ?? 0) + 1;
    this.#quick.set(slot, quickDeaths);
    if (quickDeaths > this.#o.maxQuickDeaths) return { restart: false, quickDeaths };
    const delayMs = Math.min(this.#o.maxDelayMs, this.#o.firstDelayMs * 2 ** (quickDeaths - 1));
    return { restart: true, delayMs, quickDeaths };
  }
}
