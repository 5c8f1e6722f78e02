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
  /**
   * As `post`, with the message written by `encode` straight into the bytes of the batch going to
   * `to` (no Buffer of its own): offered by inboxes that build their batches' bytes as messages
   * come (a node link). `encode` throws as it would alone, and then nothing is queued. `lost` is
   * called with the message and its destination, so one function serves every message.
   */
  postEncoded?<M>(to: string, encode: MessageEncoder<M>, m: M, version: number, lost?: (m: M, to: string) => void): void;
  /** Resolves once everything posted so far has been handed to the engine; rejects when it is unreachable. */
  flush(): Promise<void>;
  /**
   * Starts delivering this node's messages, in the order each sender posted them, one batch at a
   * time. An inbox that receives batches packed (packBatch's layout) hands them to `packed`, when
   * given, as they came, checked whole (`forEachPacked` reads them in place): no Buffer per message.
   */
  start(handler: (batch: Buffer[]) => void, packed?: (batch: Buffer) => void): Promise<void>;
  /** Stops delivery; idempotent. */
  close(): Promise<void>;
  /** Removes a dead node's inbox (its reaper calls it): what was posted there is never read. */
  drop(node: string): Promise<void>;
  /** This node's own inbox, for metrics: what waits unread (absent: an engine that holds no queue, as in memory). Rejects when the engine is away. */
  stats?(): Promise<InboxStats>;
}

/** Writes message `m` in `version` at `sink.length` (the message format is the cluster's, not the registry's). */
export type MessageEncoder<M> = (m: M, version: number, sink: ByteSink) => void;

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
 * The batching every inbox shares: what is posted in one event-loop turn is grouped per
 * destination, and `send` runs once after the turn (setImmediate, after the poll phase) with
 * each destination's batch. `flushed` settles with that send: it rejects when the engine could
 * not take a batch. A batch is whatever the inbox collects (messages, or a frame's bytes).
 */
export class TurnBatches<B> {
  #pending = new Map<string, B>();
  /** The batch asked for last and its destination: a turn's messages mostly go to one node, found without a Map lookup each. */
  #lastTo: string | undefined;
  #last: B | undefined;
  #scheduled = false;
  #flushed: Promise<void> = Promise.resolve();
  readonly #create: (to: string) => B;
  readonly #send: (batches: ReadonlyMap<string, B>) => Promise<void> | void;

  constructor(create: (to: string) => B, send: (batches: ReadonlyMap<string, B>) => Promise<void> | void) {
    this.#create = create;
    this.#send = send;
  }

  /** `to`'s batch of this turn, made (and the turn's send scheduled) when there is none yet. */
  batch(to: string): B {
    if (to === this.#lastTo && this.#last !== undefined) return this.#last;
    let q = this.#pending.get(to);
    if (!q) this.#pending.set(to, (q = this.#create(to)));
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#flushed = new Promise<void>((resolve, reject) => setImmediate(() => {
        this.#scheduled = false;
        const out = this.#pending;
        this.#pending = new Map();
        this.#last = undefined;
        new Promise<void>((done) => done(this.#send(out))).then(resolve, reject);
      }));
      this.#flushed.catch(() => {}); // reported through `lost` and flush()
    }
    this.#lastTo = to;
    this.#last = q;
    return q;
  }

  /** Takes `to`'s batch out of this turn (its caller sends it now). */
  take(to: string): void {
    this.#pending.delete(to);
    if (to === this.#lastTo) this.#last = undefined;
  }

  /** Settles once everything added so far was sent (or its `lost` called). */
  get flushed(): Promise<void> {
    return this.#flushed;
  }
}

/** Turn batching of messages as Buffers (the memory and Redis-stream inboxes). */
export class TurnOutbox extends TurnBatches<OutboxBatch> {
  constructor(send: (batches: ReadonlyMap<string, OutboxBatch>) => Promise<void> | void) {
    super(() => ({ msgs: [], lost: [] }), send);
  }

  /** Queues `msg` for `to`; returns the destination's batch of this turn so far. */
  add(to: string, msg: Buffer, lost?: () => void): OutboxBatch {
    const q = this.batch(to);
    q.msgs.push(msg);
    q.lost.push(lost);
    return q;
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
 * Bytes being written in place: an encoder appends at `length`, and `sinkRoom` replaces `buf` by
 * a larger copy when what it writes next does not fit (a node link builds its frames so).
 */
export interface ByteSink {
  buf: Buffer;
  length: number;
}

/** Reserves `n` bytes at the end of `s` (growing it by doubling) and returns where they start: read `s.buf` after, never before (`s.buf[sinkRoom(s, 1)] = v` writes to the buffer it replaced). */
export function sinkRoom(s: ByteSink, n: number): number {
  const at = s.length;
  const need = at + n;
  if (need > s.buf.length) {
    const bigger = Buffer.allocUnsafe(Math.max(s.buf.length * 2, need));
    bigger.set(s.buf.subarray(0, at));
    s.buf = bigger;
  }
  s.length = need;
  return at;
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

/** The messages of a packed batch, counted; throws on a torn value rather than misreading it. */
export function checkPacked(buf: Buffer): number {
  let n = 0;
  let o = 0;
  while (o < buf.length) {
    if (o + 4 > buf.length) throw new Error('inbox batch: torn length');
    o += 4 + buf.readUInt32BE(o);
    if (o > buf.length) throw new Error('inbox batch: torn message');
    n++;
  }
  return n;
}

/** Calls `fn` with each message's place in a packed batch that checkPacked accepted, in order. */
export function forEachPacked(buf: Buffer, fn: (buf: Buffer, start: number, end: number) => void): void {
  let o = 0;
  while (o < buf.length) {
    const start = o + 4;
    o = start + buf.readUInt32BE(o);
    fn(buf, start, o);
  }
}

/** The inverse of packBatch; throws on a torn value rather than misreading it. */
export function unpackBatch(buf: Buffer): Buffer[] {
  checkPacked(buf);
  const out: Buffer[] = [];
  forEachPacked(buf, (b, start, end) => out.push(b.subarray(start, end)));
  return out;
}
