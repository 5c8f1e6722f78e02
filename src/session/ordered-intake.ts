import type { Transmission } from '../protocol/index.js';

/** What the intake pauses while it holds: the connection's reading (TCP backpressure). */
export interface Pausable {
  pauseReading(): void;
  resumeReading(): void;
}

/**
 * Keeps one peer's transmissions in arrival order across an asynchronous step. The protocol has
 * no ACL acknowledgement, so a central can rely only on its own session's order: after an ACL
 * transmission, everything it sends next waits (reading paused) until that ACL is persisted
 * and enforced, then runs in order. So a Pong, a Response or a forwarded Request that answers a
 * later transmission proves the ACL in force (issue 10 §1).
 */
export class OrderedIntake {
  readonly #handle: (t: Transmission) => void;
  readonly #link: Pausable;
  /** Transmissions that arrived while held; undefined: not holding. */
  #held: Transmission[] | undefined;
  /** The step being waited for: only the latest one releases. */
  #step: Promise<unknown> | undefined;

  constructor(handle: (t: Transmission) => void, link: Pausable) {
    this.#handle = handle;
    this.#link = link;
  }

  get holding(): boolean {
    return this.#held !== undefined;
  }

  push(t: Transmission): void {
    if (this.#held) this.#held.push(t);
    else this.#handle(t);
  }

  /** Holds what arrives next until `step` settles (fulfilled or not). */
  holdUntil(step: Promise<unknown>): void {
    if (!this.#held) {
      this.#held = [];
      this.#link.pauseReading();
    }
    const release = () => { if (this.#step === step) this.#release(); };
    this.#step = step;
    step.then(release, release);
  }

  #release(): void {
    const q = this.#held!;
    this.#held = undefined;
    this.#step = undefined;
    for (let i = 0; i < q.length; i++) {
      if (this.#held) {
        // A held ACL among them holds the rest again, still in order.
        (this.#held as Transmission[]).push(...q.slice(i));
        return;
      }
      this.#handle(q[i]!);
    }
    if (!this.#held) this.#link.resumeReading();
  }
}
