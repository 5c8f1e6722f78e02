/**
 * What is addressed to a kept session, in order (PROTOCOL §6). Bounded per session (count,
 * bytes) and globally (bytes, through a shared BufferBudget). Entries hold encoded bytes
 * (a compact copy, so the socket chunk they came from can be freed).
 */
/** A buffered request's tracking entry, as the buffer sees it. */
export interface BufferedRequest {
  /** True once its origin was answered (e.g. 0xA1): it is then never delivered late (PROTOCOL §6). */
  readonly settled: boolean;
  /** The buffer is discarded without delivery (session ended or expired): answer the origin 0xA0. */
  discard(): void;
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

  /** Adds at the end, or says which bound refused it. */
  push(item: BufferedItem): BufferRefusal | undefined {
    const n = item.bytes.length;
    if (this.#items.length >= this.maxCount) return 'session-count';
    if (this.#bytes + n > this.maxBytes) return 'session-bytes';
    if (!this.budget.tryTake(n)) return 'global-bytes';
    this.#items.push(item);
    this.#bytes += n;
    return undefined;
  }

  /** Empties the buffer and returns the bytes still worth sending, in order. */
  drain(): Buffer[] {
    const out: Buffer[] = [];
    for (const it of this.#takeAll()) if (!it.request?.settled) out.push(it.bytes);
    return out;
  }

  /** Empties the buffer without delivery; each item's origin is told (0xA0). */
  discard(): number {
    const items = this.#takeAll();
    for (const it of items) it.request?.discard();
    return items.length;
  }

  #takeAll(): BufferedItem[] {
    const items = this.#items;
    this.budget.give(this.#bytes);
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
