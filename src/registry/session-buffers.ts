import type { BufferRefusal } from './offline-buffer.js';

/** A buffered Request's tracking entry, by value: the node tracking it answers its origin. */
export interface BufferedRequestRef {
  readonly dir: 'down' | 'up';
  readonly tracking: number;
  /** The node whose tracker holds the request (it answers 0xA0 if the buffer is discarded). */
  readonly node: string;
}

export interface BufferedEntry {
  /** The encoded transmission, as it will be written to the resumed connection. */
  readonly bytes: Buffer;
  readonly request?: BufferedRequestRef;
}

export interface BufferBounds {
  readonly maxCount: number;
  readonly maxBytes: number;
  /** How long the buffer may live unread (the kept session's time plus a margin): every key has an expiry. */
  readonly ttlMs: number;
}

/**
 * What is addressed to kept sessions, in order (PROTOCOL §6, CLUSTER.md guarantee 4), as data
 * so that any node can resume the session and a node's death loses nothing. Bounds are checked
 * in the same atomic step that appends.
 */
export interface SessionBuffers {
  /** Adds at the end, or says which bound refused it (nothing is added then). */
  append(uid: string, entry: BufferedEntry, bounds: BufferBounds): Promise<BufferRefusal | undefined>;
  /** Empties the buffer and returns its entries in order: a resume (deliver) or an end (answer the requests 0xA0). */
  take(uid: string): Promise<BufferedEntry[]>;
  /** Removes a buffered request whose origin was already answered (0xA1): it is never delivered late. */
  remove(uid: string, dir: 'down' | 'up', tracking: number): Promise<boolean>;
  stats(uid: string): Promise<{ count: number; bytes: number }>;
}

/** Buffers of one process's fleet. */
export class MemorySessionBuffers implements SessionBuffers {
  readonly #buffers = new Map<string, { entries: BufferedEntry[]; bytes: number }>();

  async append(uid: string, entry: BufferedEntry, bounds: BufferBounds): Promise<BufferRefusal | undefined> {
    let b = this.#buffers.get(uid);
    if (!b) this.#buffers.set(uid, (b = { entries: [], bytes: 0 }));
    if (b.entries.length >= bounds.maxCount) return 'session-count';
    if (b.bytes + entry.bytes.length > bounds.maxBytes) return 'session-bytes';
    b.entries.push({ bytes: Buffer.from(entry.bytes), ...(entry.request && { request: { ...entry.request } }) });
    b.bytes += entry.bytes.length;
    return undefined;
  }

  async take(uid: string): Promise<BufferedEntry[]> {
    const b = this.#buffers.get(uid);
    this.#buffers.delete(uid);
    return b?.entries ?? [];
  }

  async remove(uid: string, dir: 'down' | 'up', tracking: number): Promise<boolean> {
    const b = this.#buffers.get(uid);
    const i = b?.entries.findIndex((e) => e.request?.dir === dir && e.request.tracking === tracking) ?? -1;
    if (!b || i < 0) return false;
    b.bytes -= b.entries[i]!.bytes.length;
    b.entries.splice(i, 1);
    return true;
  }

  async stats(uid: string): Promise<{ count: number; bytes: number }> {
    const b = this.#buffers.get(uid);
    return { count: b?.entries.length ?? 0, bytes: b?.bytes ?? 0 };
  }
}
