import type { Clock } from '../clock.js';
import { Format, ResponseCode, type Payload } from '../protocol/index.js';
import { DeadlineLanes } from './deadline-lanes.js';
import { TrackingTable } from './tracking-table.js';
import type { GeneratedReason } from './reasons.js';

export type { GeneratedReason } from './reasons.js';

/** Empty tables kept listed at least (per direction) before a sweep: about 64 bytes each. */
const EMPTY_KEPT = 1024;

export const EMPTY_PAYLOAD: Payload = Object.freeze({ format: Format.BINARY, options: 0, data: Buffer.alloc(0) });

/** Who gets the one response a request ends with. `reason`: set when the concentrator generated the code. */
export interface ResponseTarget {
  deliverResponse(uid: string, tracking: number, code: number, payload: Payload, reason?: GeneratedReason): void;
}

/** 'down': central → object; 'up': object → central. Each has its own tracking space per object. */
export type Direction = 'down' | 'up';

/** One tracked request. It is also what an offline buffer holds for it (BufferedRequest). */
export class PendingRequest {
  settled = false;
  /** Its timeout's lane while it waits (DeadlineLanes). */
  lane: unknown = undefined;
  /** Clock ms of its timeout. */
  deadline = 0;
  unbuffer: (() => void) | undefined;
  constructor(
    readonly tracker: RequestTracker,
    readonly dir: Direction,
    readonly uid: string,
    readonly tracking: number,
    readonly origin: ResponseTarget,
    readonly startedAt: number,
    /** The table of its object and direction, which holds it while it waits: settling needs no lookup. */
    readonly perUid: TrackingTable<PendingRequest>,
  ) {}

  /** Dropped from a kept session's buffer undelivered: PROTOCOL §6 answers the origin 0xA0. */
  discard(reason: 'session-ended' | 'too-large' = 'session-ended'): void {
    this.tracker.fail(this, ResponseCode.NOT_FOUND, reason);
  }
}

export interface TrackerEvents {
  settled(p: PendingRequest, code: number, generated: boolean, now: number): void;
}

/**
 * Tracks every forwarded request per (direction, object UID, tracking number) and settles
 * each exactly once: by its response, by a generated code, or by its timeout (PROTOCOL §5).
 */
export class RequestTracker {
  /**
   * Per direction, each object's table. A table that empties stays listed (an object answering
   * one request at a time would otherwise delete and add its entry, and a table, per request:
   * Map churn whose dropped backing stores scavenges copy, see TrackingTable); the empty ones are
   * swept out once they outnumber both EMPTY_KEPT and the tables in use, so memory still follows
   * what is in flight.
   */
  readonly #tables = { down: new Map<string, TrackingTable<PendingRequest>>(), up: new Map<string, TrackingTable<PendingRequest>>() };
  /** Listed tables that are empty, per direction. */
  readonly #empty = { down: 0, up: 0 };
  readonly #clock: Clock;
  readonly #events: TrackerEvents;
  /** One timer per timeout length, not per request. */
  readonly #timeouts: DeadlineLanes<PendingRequest>;
  #size = 0;
  /** The latest start given to a request. */
  #lastStart = -Infinity;

  constructor(clock: Clock, events: TrackerEvents) {
    this.#clock = clock;
    this.#events = events;
    this.#timeouts = new DeadlineLanes(clock, (p) => this.fail(p, ResponseCode.TIMEOUT, 'timeout'));
  }

  get size(): number {
    return this.#size;
  }

  inFlight(dir: Direction, uid: string): number {
    return this.#tables[dir].get(uid)?.size ?? 0;
  }

  has(dir: Direction, uid: string, tracking: number): boolean {
    return this.#tables[dir].get(uid)?.has(tracking) ?? false;
  }

  /** The unsettled request with that key, if any. */
  pending(dir: Direction, uid: string, tracking: number): PendingRequest | undefined {
    return this.#tables[dir].get(uid)?.get(tracking);
  }

  /** Starts tracking, or returns undefined when that tracking number is in flight (0xA2). */
  begin(dir: Direction, uid: string, tracking: number, origin: ResponseTarget, timeoutMs: number): PendingRequest | undefined {
    const r = this.beginWithin(Infinity, dir, uid, tracking, origin, timeoutMs);
    return r === 'in-progress' ? undefined : (r as PendingRequest);
  }

  /**
   * `begin`, refused with 'limit' when `limit` requests of that object and direction are in
   * flight already (checked first), or 'in-progress' when that tracking number is: one table
   * lookup for what inFlight() then begin() did with two. `at`: the clock's time the request
   * arrived (its connection's read), when the caller has it: one clock read per read, not per
   * request (issue 14).
   */
  beginWithin(
    limit: number, dir: Direction, uid: string, tracking: number, origin: ResponseTarget, timeoutMs: number, at?: number,
  ): PendingRequest | 'limit' | 'in-progress' {
    const table = this.#tables[dir];
    let perUid = table.get(uid);
    if (!perUid) {
      if (limit <= 0) return 'limit';
      table.set(uid, (perUid = new TrackingTable()));
    } else if (perUid.size >= limit) return 'limit';
    else if (perUid.size === 0) this.#empty[dir]--;
    else if (perUid.has(tracking)) return 'in-progress';
    // Starts never go back (DeadlineLanes relies on it): a read time older than a request begun
    // since (one the cluster began with the clock while that read was being handled) gives way to now.
    const start = at !== undefined && at >= this.#lastStart ? at : this.#clock.now();
    this.#lastStart = start;
    const p = new PendingRequest(this, dir, uid, tracking, origin, start, perUid);
    perUid.add(p);
    this.#size++;
    p.deadline = p.startedAt + timeoutMs;
    this.#timeouts.add(p, timeoutMs);
    return p;
  }

  /** A response arrived (at clock time `at`, as for beginWithin): hands it to the origin. False when nothing waits for it (late). */
  complete(dir: Direction, uid: string, tracking: number, code: number, payload: Payload, at?: number): boolean {
    const p = this.#tables[dir].get(uid)?.get(tracking);
    if (!p) return false;
    this.#settle(p, code, payload, false, undefined, at);
    return true;
  }

  /** Settles with a code the concentrator generates (0xA0, 0xA1, 0x01...), empty payload. */
  fail(p: PendingRequest, code: number, reason: GeneratedReason): void {
    if (!p.settled) this.#settle(p, code, EMPTY_PAYLOAD, true, reason);
  }

  /** Objects listed (with a table, empty or not) in a direction: what the sweep bounds (tests). */
  tables(dir: Direction): number {
    return this.#tables[dir].size;
  }

  /** Drops the empty tables of `dir`: each was counted when it emptied, and none has filled since. */
  #sweep(dir: Direction): void {
    const table = this.#tables[dir];
    for (const [uid, perUid] of table) if (perUid.size === 0) table.delete(uid);
    this.#empty[dir] = 0;
  }

  /** Settles every pending request with `code` (shutdown). */
  failAll(code: number, reason: GeneratedReason): void {
    for (const table of [this.#tables.down, this.#tables.up]) {
      for (const perUid of [...table.values()]) for (const p of [...perUid.values()]) this.fail(p, code, reason);
    }
    this.#timeouts.release();
  }

  #settle(p: PendingRequest, code: number, payload: Payload, generated: boolean, reason: GeneratedReason | undefined, at?: number): void {
    p.settled = true;
    this.#timeouts.settled(p);
    p.unbuffer?.(); // PROTOCOL §6: an answered request is never delivered late, so it leaves its buffer now
    p.unbuffer = undefined;
    const perUid = p.perUid;
    if (perUid.get(p.tracking) === p) {
      // Waiting, so its table is the one listed for its object (a table leaves only when empty).
      perUid.delete(p.tracking);
      this.#size--;
      if (perUid.size === 0 && ++this.#empty[p.dir] > EMPTY_KEPT && this.#empty[p.dir] * 2 > this.#tables[p.dir].size) this.#sweep(p.dir);
    }
    this.#events.settled(p, code, generated, at ?? this.#clock.now());
    p.origin.deliverResponse(p.uid, p.tracking, code, payload, reason);
  }
}

/**
 * A free tracking number for a concentrator-originated request (HTTP API), in the object's
 * shared space (PROTOCOL §5 Decision). Random start, linear probe: no per-object state.
 * Returns -1 when all 65 536 are in flight.
 */
export function allocateTracking(tracker: RequestTracker, dir: Direction, uid: string): number {
  const start = (Math.random() * 0x10000) | 0;
  for (let i = 0; i < 0x10000; i++) {
    const n = (start + i) & 0xffff;
    if (!tracker.has(dir, uid, n)) return n;
  }
  return -1;
}
