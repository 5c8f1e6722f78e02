import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { DrainStatus } from '../registry/drain-status.js';
import type { SessionManager } from '../registry/session-manager.js';

export type { DrainStatus } from '../registry/drain-status.js';

export interface DrainDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** What a drain needs of the session manager: the sessions connected here, and the handoff. */
  readonly sessions: Pick<SessionManager, 'store' | 'handOff'>;
  /** Requests tracked here, and those waiting here for another node's answer. */
  inFlight(): number;
  /** A session was handed off: the other nodes are told to forget their route to it here. */
  handedOff(uid: string): void;
  /**
   * A handoff's notice is sent again this long after it, and the drain is done only this long
   * after the last second notice: a node whose route lookup answered after the first notice
   * arrived cached this node again; the second clears it, and what it sent here meanwhile has
   * arrived and been routed on before the node may stop (a heartbeat is plenty).
   */
  readonly settleMs: number;
  /** Publishes the flag to the other nodes (they stop sending clients here). */
  announce(draining: boolean): Promise<void>;
  readonly counters: { started(): void; moved(): void };
}

/** Sessions are handed off in small batches this often, so a rate is held without bursts. */
const TICK_MS = 100;

/**
 * Empties a node (issue 12, EMQX's node evacuation): new clients are placed elsewhere (the
 * placement policy sees `draining`), and connected sessions are handed off at `rate` per second:
 * Close 0x01 to the device, while its session stays kept fleet-wide, so it resumes on another
 * node with what was buffered for it (SessionManager.handOff).
 */
export class Drain {
  readonly #d: DrainDeps;
  readonly #defaultRate: number;
  #rate: number;
  #draining = false;
  #moved = 0;
  #startedAt: Date | undefined;
  #credit = 0;
  #lastTick = 0;
  /** Handed off, their second notice not yet sent (in handoff order). */
  #unsettled: Array<{ readonly uid: string; readonly at: number }> = [];
  #lastNotice = -Infinity;
  #timer: TimerHandle | undefined;

  constructor(deps: DrainDeps, defaultRate: number) {
    this.#d = deps;
    this.#defaultRate = defaultRate;
    this.#rate = defaultRate;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Starts draining (again: only the rate changes). `rate` defaults to `cluster.drainRate`. */
  async start(rate: number = this.#defaultRate): Promise<DrainStatus> {
    this.#rate = rate;
    if (this.#draining) return this.status();
    this.#draining = true;
    this.#moved = 0;
    this.#credit = 0;
    this.#unsettled = [];
    this.#startedAt = new Date();
    this.#lastTick = this.#d.clock.now();
    this.#d.counters.started();
    this.#d.log.warn({ event: 'drain-started', rate, sessions: this.#d.sessions.store.size }, `draining: new clients go to other nodes; ${this.#d.sessions.store.size} sessions handed off at ${rate}/s`);
    await this.#d.announce(true).catch((err: unknown) => this.#d.log.warn({ event: 'drain-announce-failed', err: String(err) }, 'drain flag not announced now; the next heartbeat carries it'));
    this.#schedule();
    return this.status();
  }

  /** Takes new sessions again; sessions already handed off stay where they went. */
  async cancel(): Promise<DrainStatus> {
    if (!this.#draining) return this.status();
    this.#draining = false;
    this.#d.clock.clearTimeout(this.#timer);
    this.#d.log.warn({ event: 'drain-cancelled', moved: this.#moved }, 'drain cancelled: this node takes new sessions again');
    await this.#d.announce(false).catch(() => {}); // the next heartbeat carries it
    return this.status();
  }

  /** Stops the ticking (the daemon's close): nothing is announced. */
  stop(): void {
    this.#draining = false;
    this.#d.clock.clearTimeout(this.#timer);
  }

  status(): DrainStatus {
    const left = this.#d.sessions.store.size;
    const inFlight = this.#d.inFlight();
    const settled = this.#unsettled.length === 0 && this.#d.clock.now() - this.#lastNotice >= this.#d.settleMs;
    return {
      draining: this.#draining, rate: this.#rate, sessionsLeft: left, moved: this.#moved, inFlight,
      startedAt: this.#startedAt?.toISOString() ?? null, done: this.#draining && left === 0 && inFlight === 0 && settled,
    };
  }

  #schedule(): void {
    this.#timer = this.#d.clock.setTimeout(() => this.#tick(), TICK_MS);
  }

  #tick(): void {
    if (!this.#draining) return;
    const now = this.#d.clock.now();
    // Credit accrues with the time that passed; at most one second's worth, so a stalled loop does not burst.
    this.#credit = Math.min(Math.max(1, this.#rate), this.#credit + (this.#rate * (now - this.#lastTick)) / 1000);
    this.#lastTick = now;
    const sessions = this.#d.sessions;
    for (const s of sessions.store.values()) { // a handed-off session leaves the store: no copy needed
      if (this.#credit < 1) break;
      if (!sessions.handOff(s)) continue;
      this.#d.handedOff(s.uid);
      this.#unsettled.push({ uid: s.uid, at: now });
      this.#credit--;
      this.#moved++;
      this.#d.counters.moved();
    }
    if (sessions.store.size === 0) this.#credit = 0; // no credit saved up for sessions that arrive later
    let n = 0;
    while (n < this.#unsettled.length && this.#unsettled[n]!.at + this.#d.settleMs <= now) this.#d.handedOff(this.#unsettled[n++]!.uid);
    if (n > 0) {
      this.#unsettled.splice(0, n);
      this.#lastNotice = now;
    }
    this.#schedule();
  }
}
