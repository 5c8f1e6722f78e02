/**
 * What is addressed to a kept session, in order (PROTOCOL §6). Bounded per session (count,
 * bytes) and globally (bytes, through a shared BufferBudget). Entries hold encoded bytes
 * (a compact copy, so the socket chunk they came from can be freed).
 */
/** A buffered request's tracking entry, as the buffer sees it. */
export interface BufferedRequest {
  readonly dir: 'down' | 'up';
  /** The object's UID. */
  readonly uid: string;
  readonly tracking: number;
  /**
   * Set by the buffer that holds it, called when it settles (e.g. 0xA1): what is answered leaves
   * the buffer at once, so it is never delivered late (PROTOCOL §6).
   */
  unbuffer: (() => void) | undefined;
  /** Dropped undelivered (session ended or expired, or too large for the resuming connection): answer the origin 0xA0. */
  discard(reason?: 'session-ended' | 'too-large'): void;
}

export interface BufferedItem {
  readonly bytes: Buffer;
  /** Set for a Request; a Response has no origin left to answer. */
  readonly request?: BufferedRequest;
}

export class BufferBudget {
  #used = 0;
  constructor(readonly maxTotalBytes: number) {}
  get used(): number {
    return this.#used;
  }
  tryTake(n: number): boolean {
    if (this.#used + n > this.maxTotalBytes) return false;
    this.#used += n;
    return true;
  }
  give(n: number): void {
    this.#used -= n;
  }
}

export type BufferRefusal = 'session-count' | 'session-bytes' | 'global-bytes';

export class OfflineBuffer {
  #items: BufferedItem[] = [];
  #bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
    readonly budget: BufferBudget,
  ) {}

  get count(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds at the end, or says which bound refused it. `share` (0–1] caps the part of the
   * session's bounds this item may fill (telemetry must not crowd out requests).
   */
  push(item: BufferedItem, share = 1): BufferRefusal | undefined {
    const n = item.bytes.length;
    if (this.#items.length >= this.maxCount * share) return 'session-count';
    if (this.#bytes + n > this.maxBytes * share) return 'session-bytes';
    if (!this.budget.tryTake(n)) return 'global-bytes';
    this.#items.push(item);
    this.#bytes += n;
    if (item.request) item.request.unbuffer = () => this.#remove(item);
    return undefined;
  }

  /** Empties the buffer and returns it, in order (an answered request has already left it). */
  drain(): BufferedItem[] {
    return this.#takeAll();
  }

  /** Empties the buffer without delivery; each item's origin is told (0xA0). */
  discard(): number {
    const items = this.#takeAll();
    for (const it of items) it.request?.discard();
    return items.length;
  }

  /** A request answered while buffered (0xA1): it would never be delivered, so it no longer counts. */
  #remove(item: BufferedItem): void {
    const i = this.#items.indexOf(item);
    if (i < 0) return;
    this.#items.splice(i, 1);
    this.#bytes -= item.bytes.length;
    this.budget.give(item.bytes.length);
  }

  #takeAll(): BufferedItem[] {
    const items = this.#items;
    for (const it of items) if (it.request) it.request.unbuffer = undefined;
    this.budget.give(this.#bytes);
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
