import type { Clock, TimerHandle } from '../clock.js';
import type { Payload } from '../protocol/index.js';
import { ClientError, ClientErrorCode } from './errors.js';

/** A Response as the SDK hands it back. `payload.data` is a view; copy it to keep it long. */
export interface ResponseResult {
  readonly code: number;
  readonly payload: Payload;
}

const TRACKING_SPACE = 0x10000;

interface Pending {
  readonly resolve: (r: ResponseResult) => void;
  readonly reject: (e: ClientError) => void;
  timer: TimerHandle | undefined;
}

/**
 * Outgoing requests in flight, per destination key (the target UID, '' for the object's
 * own session), each with its timeout. Tracking numbers come from one rotating 16-bit
 * counter, skipping numbers in flight towards the same destination, so a number that just
 * timed out is not reused at once. Every request settles exactly once.
 */
export class RequestTracker {
  readonly #clock: Clock;
  readonly #byKey = new Map<string, Map<number, Pending>>();
  #counter = 0;
  #size = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Requests in flight. */
  get size(): number {
    return this.#size;
  }

  /**
   * Picks a free tracking number for `key` and registers the request with its timeout.
   * The caller then sends the Request, and calls `fail()` if it could not.
   */
  track(key: string, timeoutMs: number): { readonly tracking: number; readonly promise: Promise<ResponseResult> } {
    let map = this.#byKey.get(key);
    if (map === undefined) {
      map = new Map();
      this.#byKey.set(key, map);
    } else if (map.size >= TRACKING_SPACE) {
      throw new ClientError(ClientErrorCode.BUSY, 'all tracking numbers are in flight');
    }
    let tracking = this.#counter;
    while (map.has(tracking)) tracking = (tracking + 1) & 0xffff;
    this.#counter = (tracking + 1) & 0xffff;
    let pending!: Pending;
    const promise = new Promise<ResponseResult>((resolve, reject) => {
      pending = { resolve, reject, timer: undefined };
    });
    map.set(tracking, pending);
    this.#size++;
    pending.timer = this.#clock.setTimeout(() => {
      if (this.#take(key, tracking) !== pending) return;
      pending.reject(new ClientError(ClientErrorCode.TIMEOUT, `no response within ${timeoutMs} ms`, { tracking }));
    }, timeoutMs);
    return { tracking, promise };
  }

  /** Rejects one request in flight (e.g. it could not be sent). */
  fail(key: string, tracking: number, err: ClientError): void {
    const p = this.#take(key, tracking);
    if (p === undefined) return;
    this.#clock.clearTimeout(p.timer);
    p.reject(err);
  }

  /** Settles the matching request; false for an unknown or late Response. */
  settle(key: string, tracking: number, code: number, payload: Payload): boolean {
    const p = this.#take(key, tracking);
    if (p === undefined) return false;
    this.#clock.clearTimeout(p.timer);
    p.resolve({ code, payload });
    return true;
  }

  /** Rejects every request in flight with an error built by `make` (one per request). */
  rejectAll(make: () => ClientError): void {
    const all = [...this.#byKey.values()];
    this.#byKey.clear();
    this.#size = 0;
    for (const map of all) {
      for (const p of map.values()) {
        this.#clock.clearTimeout(p.timer);
        p.reject(make());
      }
    }
  }

  #take(key: string, tracking: number): Pending | undefined {
    const map = this.#byKey.get(key);
    const p = map?.get(tracking);
    if (p === undefined) return undefined;
    map!.delete(tracking);
    if (map!.size === 0) this.#byKey.delete(key);
    this.#size--;
    return p;
  }
}
