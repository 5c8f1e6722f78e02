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
   * called if the engine surely did not take the batch (it is unreachable, it refused it): answer
   * the origin at once. Never when the batch's fate is unknown (handed over, then no answer): it
   * may still be delivered, so whoever waits for its answer keeps to its backstop timer.
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

/** What one loop turn posted to one destination, with each message's `lost` callback. */
export interface OutboxBatch {
  readonly msgs: Buffer[];
  readonly lost: Array<(() => void) | undefined>;
}

/**
 * The batching every inbox shares: messages posted in one event-loop turn are grouped per
 * destination, and `send` runs once after the turn (setImmediate, after the poll phase) with
 * them. `flushed` settles with that send: it rejects when the engine could not take a batch.
 */
export class TurnOutbox {
  #pending = new Map<string, OutboxBatch>();
  #scheduled = false;
  #flushed: Promise<void> = Promise.resolve();
  readonly #send: (batches: ReadonlyMap<string, OutboxBatch>) => Promise<void> | void;

  constructor(send: (batches: ReadonlyMap<string, OutboxBatch>) => Promise<void> | void) {
    this.#send = send;
  }

  /** Queues `msg` for `to`; returns the destination's batch of this turn so far. */
  add(to: string, msg: Buffer, lost?: () => void): OutboxBatch {
    let q = this.#pending.get(to);
    if (!q) this.#pending.set(to, (q = { msgs: [], lost: [] }));
    q.msgs.push(msg);
    q.lost.push(lost);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#flushed = new Promise<void>((resolve, reject) => setImmediate(() => {
        this.#scheduled = false;
        const out = this.#pending;
        this.#pending = new Map();
        new Promise<void>((done) => done(this.#send(out))).then(resolve, reject);
      }));
      this.#flushed.catch(() => {}); // reported through `lost` and flush()
    }
    return q;
  }

  /** Takes `to`'s batch out of this turn (its caller sends it now). */
  take(to: string): void {
    this.#pending.delete(to);
  }

  /** Settles once everything added so far was sent (or its `lost` called). */
  get flushed(): Promise<void> {
    return this.#flushed;
  }
}

/** The inboxes of one process's fleet (the single node, or several in one test). */
export class MemoryInboxBacking {
  readonly handlers = new Map<string, (batch: Buffer[]) => void>();
}

export class MemoryNodeInbox implements NodeInbox {
  readonly node: string;
  readonly #b: MemoryInboxBacking;
  readonly #out = new TurnOutbox((batches) => {
    for (const [to, q] of batches) this.#b.handlers.get(to)?.(q.msgs);
  });

  constructor(node: string, backing: MemoryInboxBacking = new MemoryInboxBacking()) {
    this.node = node;
    this.#b = backing;
  }

  post(to: string, msg: Buffer, _lost?: () => void): void {
    this.#out.add(to, msg);
  }

  flush(): Promise<void> {
    return this.#out.flushed;
  }

  async start(handler: (batch: Buffer[]) => void): Promise<void> {
    this.#b.handlers.set(this.node, handler);
  }

  async close(): Promise<void> {
    this.#b.handlers.delete(this.node);
  }

  async drop(_node: string): Promise<void> {}
}

/**
 * Length-prefixed concatenation of a batch (u32 BE length, bytes): one engine value per batch.
 * `framed`: preceded by the u32 length of the whole (a node link's frame), in the same buffer.
 */
export function packBatch(batch: readonly Buffer[], framed = false): Buffer {
  let n = 0;
  for (const m of batch) n += 4 + m.length;
  const head = framed ? 4 : 0;
  const out = Buffer.allocUnsafe(head + n);
  if (framed) out.writeUInt32BE(n, 0);
  let o = head;
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
