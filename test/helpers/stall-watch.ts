import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Disturbances } from './disturbances.js';

/**
 * Watches for stalls nobody planned: Redis answering a PING late (an `appendfsync always` write
 * waiting on a disk shared with other work), or this process's timers firing late (the machine
 * starved). Either makes the nodes' Redis commands time out (commandTimeoutMs) and refuse
 * requests with "cluster-unavailable", exactly as designed; the soak records each stall as a
 * fleet disturbance, so such a refusal is excused only when a stall was seen at that moment.
 */
export class StallWatch {
  /** Each stall seen: how long (ms) and when (ms since the start). */
  readonly stalls: Array<{ readonly at: number; readonly ms: number; readonly what: string }> = [];
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(
    readonly r: Redis,
    readonly dist: Disturbances,
    readonly now: () => number,
    readonly o: { readonly everyMs: number; readonly thresholdMs: number; readonly graceMs: number; readonly paused: () => boolean },
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** The longest stall seen, in ms (0: none). */
  get longestMs(): number {
    return this.stalls.reduce((a, s) => Math.max(a, s.ms), 0);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const due = this.now() + this.o.everyMs;
      await sleep(this.o.everyMs);
      const late = this.now() - due;
      if (this.o.paused()) continue; // Redis stopped on purpose: a disturbance of its own
      const sent = this.now();
      const answered = await Promise.race([this.r.ping().then(() => true, () => false), sleep(5_000).then(() => false)]);
      const pingMs = this.now() - sent;
      if (answered && Math.max(late, pingMs) < this.o.thresholdMs) continue;
      if (this.o.paused()) continue;
      const what = `stall: PING ${answered ? `${pingMs} ms` : 'unanswered'}, timer ${late} ms late`;
      this.stalls.push({ at: sent - late, ms: Math.max(late, pingMs), what });
      this.dist.record('fleet', what, sent - late, this.now(), this.o.graceMs);
    }
  }
}
