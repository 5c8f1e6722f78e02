/**
 * Node-to-node messages (CLUSTER.md "one inbox per node"): what one node hands another — a
 * transmission for a session it holds, a response for an origin it tracks, a takeover. Messages
 * are opaque bytes here (their format and version are the sender's and receiver's business).
 * What is posted in one event-loop turn to one node travels as one batch: a busy pair of
 * nodes costs one engine command per turn, not per message. At most once: a receiver that dies
 * loses what it had not handled, so whoever waits for an answer keeps a backstop timer.
 */
export interface NodeInbox {
  readonly node: string;
  /** Where other nodes reach this inbox once started, when they dial it themselves (announced with the node's lease). */
  readonly link?: { readonly address: string; readonly key: string };
  /**
   * Queues `msg` for node `to`; sent with the rest of this loop turn's messages to it. `lost` is
   * called if the engine could not take the batch (it is unreachable): answer the origin at once.
   */
  post(to: string, msg: Buffer, lost?: () => void): void;
  /** Resolves once everything posted so far has been handed to the engine; rejects when it is unreachable. */
  flush(): Promise<void>;
  /** Starts delivering this node's messages, in the order each sender posted them, one batch at a time. */
  start(handler: (batch: Buffer[]) => void): Promise<void>;
  /** Stops delivery; idempotent. */
  close(): Promise<void>;
  /** Removes a dead node's inbox (its reaper calls it): what was posted there is never read. */
  drop(node: string): Promise<void>;
  /** This node's own inbox, for metrics: what waits unread (absent: an engine that holds no queue, as in memory). Rejects when the engine is away. */
  stats?(): Promise<InboxStats>;
}

/** What waits in a node's inbox. */
export interface InboxStats {
  /** Batches (one per sender and loop turn) not read yet. */
  readonly depth: number;
  /** Age of the oldest of them by the engine's clock; 0 when none waits. */
  readonly lagMs: number;
}

/** The inboxes of one process's fleet (the single node, or several in one test). */
export class MemoryInboxBacking {
  readonly handlers = new Map<string, (batch: Buffer[]) => void>();
}

export class MemoryNodeInbox implements NodeInbox {
  readonly node: string;
  readonly #b: MemoryInboxBacking;
  #outbox = new Map<string, Buffer[]>();
  #scheduled = false;
  #flushed: Promise<void> = Promise.resolve();

  constructor(node: string, backing: MemoryInboxBacking = new MemoryInboxBacking()) {
    this.node = node;
    this.#b = backing;
  }

  post(to: string, msg: Buffer, _lost?: () => void): void {
    let q = this.#outbox.get(to);
    if (!q) this.#outbox.set(to, (q = []));
    q.push(msg);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#flushed = new Promise((resolve) => setImmediate(() => { this.#send(); resolve(); }));
  }

  flush(): Promise<void> {
    return this.#flushed;
  }

  async start(handler: (batch: Buffer[]) => void): Promise<void> {
    this.#b.handlers.set(this.node, handler);
  }

  async close(): Promise<void> {
    this.#b.handlers.delete(this.node);
  }

  async drop(_node: string): Promise<void> {}

  #send(): void {
    this.#scheduled = false;
    const out = this.#outbox;
    this.#outbox = new Map();
    for (const [to, batch] of out) this.#b.handlers.get(to)?.(batch);
  }
}

/** Length-prefixed concatenation of a batch (u32 BE length, bytes): one engine value per batch. */
export function packBatch(batch: readonly Buffer[]): Buffer {
  let n = 0;
  for (const m of batch) n += 4 + m.length;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (const m of batch) {
    out.writeUInt32BE(m.length, o);
    o += 4 + m.copy(out, o + 4);
  }
  return out;
}

/** The inverse of packBatch; throws on a torn value rather than misreading it. */
export function unpackBatch(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < buf.length) {
    if (o + 4 > buf.length) throw new Error('inbox batch: torn length');
    const n = buf.readUInt32BE(o);
    if (o + 4 + n > buf.length) throw new Error('inbox batch: torn message');
    out.push(buf.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}
