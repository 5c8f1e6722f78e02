import type { BufferRefusal } from './offline-buffer.js';
import type { MemoryDirectoryBacking } from './session-directory.js';

/** A buffered Request's tracking entry, by value: the node tracking it answers its origin. */
export interface BufferedRequestRef {
  readonly dir: 'down' | 'up';
  readonly tracking: number;
  /** The node whose tracker holds the request (it answers 0xA0 if the buffer is discarded). */
  readonly node: string;
  /** The object's UID, for a request buffered for the central (its buffer holds many objects' requests). */
  readonly uid?: string;
  /** The tracking node's run (lease incarnation), so a restarted node tells its previous run's requests from its own. */
  readonly run?: string;
  /** Wall-clock ms of the request's timeout: a resume past it leaves it out (its origin got 0xA1). */
  readonly expiresAt?: number;
}

/** Why an append guarded by a claim was refused: the session is no longer kept under it (resumed, taken, ended). */
export type NotKept = 'not-kept';

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
  /**
   * Adds at the end, or says which bound refused it (nothing is added then). With `whileKept`,
   * only while the directory's entry for `uid` is kept under that claim, in the same atomic step:
   * once a node claimed the session and took its buffer, nothing can land behind its back.
   */
  append(uid: string, entry: BufferedEntry, bounds: BufferBounds, whileKept?: string): Promise<BufferRefusal | NotKept | undefined>;
  /** Empties the buffer and returns its entries in order: a resume (deliver) or an end (answer the requests 0xA0). */
  take(uid: string): Promise<BufferedEntry[]>;
  /** Removes a buffered request whose origin was already answered (0xA1): it is never delivered late. `requestUid`: the object's, in the central's buffer. */
  remove(uid: string, dir: 'down' | 'up', tracking: number, requestUid?: string): Promise<boolean>;
  stats(uid: string): Promise<{ count: number; bytes: number }>;
}

/** Buffers of one process's fleet. */
export class MemorySessionBuffers implements SessionBuffers {
  readonly #buffers = new Map<string, { entries: BufferedEntry[]; bytes: number }>();
  readonly #directory: MemoryDirectoryBacking | undefined;

  /** `directory`: the entries `whileKept` checks (the fleet's MemorySessionDirectory backing). */
  constructor(directory?: MemoryDirectoryBacking) {
    this.#directory = directory;
  }

  async append(uid: string, entry: BufferedEntry, bounds: BufferBounds, whileKept?: string): Promise<BufferRefusal | NotKept | undefined> {
    if (whileKept !== undefined) {
      const e = this.#directory?.entries.get(uid);
      if (!e || e.state !== 'kept' || e.claim !== whileKept) return 'not-kept';
    }
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

  async remove(uid: string, dir: 'down' | 'up', tracking: number, requestUid?: string): Promise<boolean> {
    const b = this.#buffers.get(uid);
    const i = b?.entries.findIndex((e) => e.request?.dir === dir && e.request.tracking === tracking && (requestUid === undefined || e.request.uid === requestUid)) ?? -1;
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
