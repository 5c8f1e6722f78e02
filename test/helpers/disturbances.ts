/**
 * When the soak's faults were under way, so that the model can say whether an error answer was
 * allowed at that moment: a refusal (0xA0, 0xA1, HTTP 503) is excused only for a request whose
 * life overlaps a disturbance of the fleet (a node killed, Redis away) or of its own target (the
 * object moving), each widened by a grace for what follows it (leases lapsing, reaps, reconnects).
 * With nothing disturbed, every request must succeed.
 */
export type Scope = 'fleet' | string;

interface Window {
  readonly scope: Scope;
  readonly what: string;
  readonly from: number;
  to: number | undefined;
  readonly graceMs: number;
}

export class Disturbances {
  readonly #windows: Window[] = [];

  constructor(readonly now: () => number) {}

  /** A disturbance of `scope` begins now; call the returned function when it is over. */
  begin(scope: Scope, what: string, graceMs: number): () => void {
    const w: Window = { scope, what, from: this.now(), to: undefined, graceMs };
    this.#windows.push(w);
    return () => { w.to ??= this.now(); };
  }

  /** A disturbance seen after the fact (a stall measured once it ended): [from, to] of `scope`. */
  record(scope: Scope, what: string, from: number, to: number, graceMs: number): void {
    this.#windows.push({ scope, what, from, to, graceMs });
  }

  /** The disturbance of `scopes` overlapping [from, to], if any: what excuses an error in that span. */
  overlapping(scopes: readonly Scope[], from: number, to: number): string | undefined {
    for (let i = this.#windows.length - 1; i >= 0; i--) {
      const w = this.#windows[i]!;
      if (!scopes.includes(w.scope)) continue;
      const end = (w.to ?? Infinity) + w.graceMs;
      if (w.from <= to && end >= from) return `${w.what} (+${w.from}…${w.to === undefined ? 'now' : `+${w.to}`}, grace ${w.graceMs} ms)`;
    }
    return undefined;
  }

  /** No disturbance of any scope open now or within its grace: a moment for calm checks. */
  calm(at: number): boolean {
    return this.#windows.every((w) => w.from > at || (w.to ?? Infinity) + w.graceMs < at);
  }
}
