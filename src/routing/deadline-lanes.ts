import type { Clock, TimerHandle } from '../clock.js';

/** What a lane holds: its deadline (clock ms), and the lane while it waits (cleared once settled). */
export interface Timed {
  readonly deadline: number;
  lane: unknown;
}

/** The waiting items of one timeout length, in the order they began, which is their deadlines' order. */
class Lane<T extends Timed> {
  /** Slots before `head` are emptied (undefined): nothing settled is held there. */
  items: Array<T | undefined> = [];
  head = 0;
  live = 0;
  timer: TimerHandle | undefined;
  constructor(readonly ms: number) {}
}

/** Settled items a lane may hold before it is compacted: a bound on what outlives its answer. */
const COMPACT_AT = 1024;

/**
 * Timeouts without a timer per request (issue 14: a setTimeout and a clearTimeout per request
 * were about 5 % of the daemon's CPU). Items of one timeout length begin in clock order, so
 * their deadlines come in that order too: each length is a lane (a queue) with one timer, for
 * its earliest waiting item. Settling an item is a count; the timer, when it fires, skips what
 * was settled meanwhile. A lane whose items are all settled keeps its timer until it fires, then
 * goes (one timeout length at most), and settled items are dropped once they outnumber the
 * waiting ones, so memory follows what is in flight.
 * Each item is due at its own deadline, as with a timer of its own (same clock, same order).
 */
export class DeadlineLanes<T extends Timed> {
  readonly #lanes = new Map<number, Lane<T>>();
  readonly #clock: Clock;
  readonly #due: (item: T) => void;
  /** The lane `add` used last, while it is listed (cleared when it goes). */
  #last: Lane<T> | undefined;

  /** `due(item)` must settle it (call `settled(item)`), as a timeout does. */
  constructor(clock: Clock, due: (item: T) => void) {
    this.#clock = clock;
    this.#due = due;
  }

  /** `item.deadline` must be the clock's now + `timeoutMs`. */
  add(item: T, timeoutMs: number): void {
    // Nearly every request has the configured timeout: its lane is kept at hand.
    let lane = this.#last;
    if (lane === undefined || lane.ms !== timeoutMs) {
      lane = this.#lanes.get(timeoutMs);
      if (!lane) this.#lanes.set(timeoutMs, (lane = new Lane(timeoutMs)));
      this.#last = lane;
    }
    lane.items.push(item);
    lane.live++;
    item.lane = lane;
    if (!lane.timer) this.#arm(lane, item.deadline);
  }

  /** The item was answered (or failed): it no longer waits. */
  settled(item: T): void {
    const lane = item.lane as Lane<T> | undefined;
    if (!lane) return;
    item.lane = undefined;
    // The last waiting item settled: the lane and its timer stay until the timer fires (then the
    // lane goes, if still empty). An object answering one request at a time empties its lane on
    // every answer, and dropping it cost a clearTimeout, a setTimeout and a new lane per request,
    // whose Map and timer-list churn scavenges had to copy (issue 14). What it holds is let go
    // below like any settled head, and its array kept (truncating it to 0 cost regrowth).
    lane.live--;
    // Requests are mostly answered in the order they began: what was settled at the head of the
    // queue is let go now, not at the next compaction, so it dies young (a settled request held
    // until then outlived a scavenge or two and was promoted: old-space garbage, issue 14).
    const items = lane.items;
    let head = lane.head;
    while (head < items.length && items[head]!.lane !== lane) items[head++] = undefined;
    lane.head = head;
    const dead = items.length - head - lane.live;
    if (dead > COMPACT_AT && dead > lane.live) {
      lane.items = items.slice(head).filter((x) => x!.lane === lane);
      lane.head = 0;
    } else if (head > COMPACT_AT && head * 2 > items.length) {
      lane.items = items.slice(head);
      lane.head = 0;
    }
  }

  /** Items held in all lanes, settled ones not yet dropped included: what the compaction bounds. */
  get held(): number {
    let n = 0;
    for (const l of this.#lanes.values()) n += l.items.length - l.head;
    return n;
  }

  /** Timers armed now: one per timeout length with something waiting, or that had within its length. */
  get timers(): number {
    return this.#lanes.size;
  }

  /** Drops the lanes nothing waits in, and their timers (shutdown: RequestTracker.failAll). */
  release(): void {
    for (const lane of [...this.#lanes.values()]) {
      if (lane.live > 0) continue;
      this.#clock.clearTimeout(lane.timer);
      lane.timer = undefined;
      this.#lanes.delete(lane.ms);
      if (this.#last === lane) this.#last = undefined;
    }
  }

  /** Items waiting, in all lanes. */
  get waiting(): number {
    let n = 0;
    for (const l of this.#lanes.values()) n += l.live;
    return n;
  }

  #arm(lane: Lane<T>, deadline: number): void {
    lane.timer = this.#clock.setTimeout(() => this.#fire(lane), Math.max(0, deadline - this.#clock.now()));
  }

  #fire(lane: Lane<T>): void {
    lane.timer = undefined;
    const now = this.#clock.now();
    while (lane.head < lane.items.length) {
      const item = lane.items[lane.head]!;
      if (item.lane !== lane) {
        lane.items[lane.head++] = undefined; // settled meanwhile
        continue;
      }
      if (item.deadline > now) break;
      lane.items[lane.head++] = undefined;
      this.#due(item);
    }
    if (lane.live === 0) {
      // Nothing has waited since this timer was armed, or everything was due: the lane goes.
      if (lane.timer) return; // a `due` began an item of this length, which armed the lane again
      this.#lanes.delete(lane.ms);
      if (this.#last === lane) this.#last = undefined;
      return;
    }
    if (lane.head > COMPACT_AT && lane.head * 2 > lane.items.length) {
      lane.items = lane.items.slice(lane.head);
      lane.head = 0;
    }
    // A `due` may have begun an item of this length, which armed the lane already.
    if (!lane.timer && lane.head < lane.items.length) this.#arm(lane, lane.items[lane.head]!.deadline);
  }
}
