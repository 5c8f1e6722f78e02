import type { ResponseTarget } from '../routing/request-tracker.js';

/** A request sent to another node's tracker, waiting here for its answer (RemoteWaits' overflow keeps one so). */
export interface Wait {
  readonly origin: ResponseTarget;
  readonly node: string;
  readonly uid: string;
  readonly tracking: number;
  /** Clock ms after which the origin is answered here (0xA1) if the node never answered. */
  readonly deadline: number;
}

/** Slots of the ring: well above the requests a busy pair of nodes has in flight (bench: 320). */
const RING_SLOTS = 4096;

/**
 * The fleet's cross-node waits by id (ids are this node's own, given in sequence). Most are
 * answered in about the order they were sent, so a wait sits in a ring of parallel arrays at
 * `id mod RING_SLOTS`: no object and no Map entry per request (the Map's hashing, growth and
 * rehashing, and the wait object, were a tenth of the sending node's work per round trip). A
 * wait still there when its slot comes round again (a node slow to answer, or dead: its
 * backstop is seconds away) moves to an overflow Map, so a straggler never makes the ring
 * grow nor is overwritten.
 */
export class RemoteWaits {
  readonly #ids = new Uint32Array(RING_SLOTS);
  readonly #used = new Uint8Array(RING_SLOTS);
  readonly #trackings = new Int32Array(RING_SLOTS);
  readonly #deadlines = new Float64Array(RING_SLOTS);
  readonly #origins: Array<ResponseTarget | undefined> = new Array<ResponseTarget | undefined>(RING_SLOTS).fill(undefined);
  readonly #nodes: string[] = new Array<string>(RING_SLOTS).fill('');
  readonly #uids: string[] = new Array<string>(RING_SLOTS).fill('');
  #inRing = 0;
  /** The slot added last: the ring is read from the one after it, so oldest first. */
  #newest = RING_SLOTS - 1;
  readonly #overflow = new Map<number, Wait>();

  get size(): number {
    return this.#inRing + this.#overflow.size;
  }

  /** Adds the wait `id` (a u32 not waiting already). */
  add(id: number, origin: ResponseTarget, node: string, uid: string, tracking: number, deadline: number): void {
    const i = id & (RING_SLOTS - 1);
    if (this.#used[i] === 1) {
      this.#overflow.set(this.#ids[i]!, this.#wait(i));
      this.#inRing--;
    }
    this.#used[i] = 1;
    this.#ids[i] = id;
    this.#origins[i] = origin;
    this.#nodes[i] = node;
    this.#uids[i] = uid;
    this.#trackings[i] = tracking;
    this.#deadlines[i] = deadline;
    this.#inRing++;
    this.#newest = i;
  }

  /** Takes wait `id` out and returns its origin; undefined when it is not waiting (answered already). */
  takeOrigin(id: number): ResponseTarget | undefined {
    const i = id & (RING_SLOTS - 1);
    if (this.#used[i] === 1 && this.#ids[i] === id) {
      const origin = this.#origins[i];
      this.#free(i);
      return origin;
    }
    return this.#takeOverflow(id)?.origin;
  }

  /** Takes wait `id` out, whole; undefined when it is not waiting. */
  take(id: number): Wait | undefined {
    const i = id & (RING_SLOTS - 1);
    if (this.#used[i] === 1 && this.#ids[i] === id) {
      const w = this.#wait(i);
      this.#free(i);
      return w;
    }
    return this.#takeOverflow(id);
  }

  /** The ids of the waits whose deadline is at or before `now`, oldest first (the overflow's, then the ring's). */
  expired(now: number): number[] {
    return this.#select(now, undefined);
  }

  /** The ids of the waits for `node`'s answer. */
  waitingFor(node: string): number[] {
    return this.#select(Infinity, node);
  }

  /** Every id waiting, oldest first. */
  ids(): number[] {
    return this.#select(Infinity, undefined);
  }

  #select(until: number, node: string | undefined): number[] {
    const out: number[] = [];
    for (const [id, w] of this.#overflow) if (w.deadline <= until && (node === undefined || w.node === node)) out.push(id);
    if (this.#inRing === 0) return out;
    for (let k = 1; k <= RING_SLOTS; k++) {
      const i = (this.#newest + k) & (RING_SLOTS - 1);
      if (this.#used[i] === 1 && this.#deadlines[i]! <= until && (node === undefined || this.#nodes[i] === node)) out.push(this.#ids[i]!);
    }
    return out;
  }

  clear(): void {
    this.#overflow.clear();
    for (let i = 0; i < RING_SLOTS; i++) if (this.#used[i] === 1) this.#free(i);
  }

  #takeOverflow(id: number): Wait | undefined {
    if (this.#overflow.size === 0) return undefined;
    const w = this.#overflow.get(id);
    if (w) this.#overflow.delete(id);
    return w;
  }

  #wait(i: number): Wait {
    return { origin: this.#origins[i]!, node: this.#nodes[i]!, uid: this.#uids[i]!, tracking: this.#trackings[i]!, deadline: this.#deadlines[i]! };
  }

  #free(i: number): void {
    this.#used[i] = 0;
    this.#origins[i] = undefined; // the origin (a connection's target) is not kept alive by a slot
    this.#inRing--;
  }
}
