import type { Redis } from 'ioredis';
import { TurnOutbox, packBatch, unpackBatch, type InboxStats, type NodeInbox, type OutboxBatch } from '../registry/node-inbox.js';
import { RedisKeys } from './keys.js';
import { outcomeUnknown, readyToSend } from './outcome.js';

export interface RedisInboxOptions {
  /** Batches a stream keeps at most (XADD MAXLEN ~): a node that stops reading cannot grow Redis. */
  readonly maxBatches: number;
  /** An inbox nobody posts to for this long disappears (its node is gone): every key has an expiry. */
  readonly idleTtlMs: number;
  readonly blockMs: number;
}

const TRIM_EVERY_MS = 1_000;

const DEFAULTS: RedisInboxOptions = { maxBatches: 10_000, idleTtlMs: 120_000, blockMs: 1_000 };

/**
 * One Redis stream per node. A loop turn's messages to one node are one XADD (one field, the
 * packed batch); the receiver reads with XREAD BLOCK on its own connection from the last entry
 * it saw, and trims what it has read.
 */
export class RedisNodeInbox implements NodeInbox {
  readonly node: string;
  readonly #cmd: Redis;
  readonly #blocking: Redis;
  readonly #k: RedisKeys;
  readonly #o: RedisInboxOptions;
  readonly #out = new TurnOutbox((batches) => this.#send(batches));
  #closed = false;
  #reading: Promise<void> | undefined;
  /** The last entry handed to the handler (stats() counts what follows it). */
  #lastRead = '0-0';
  /** When each destination's expiry was last pushed back: once per quarter of it is enough (not one PEXPIRE per batch). */
  readonly #expiryRenewed = new Map<string, number>();

  constructor(cmd: Redis, blocking: Redis, keys: RedisKeys, node: string, opts: Partial<RedisInboxOptions> = {}) {
    this.node = node;
    this.#cmd = cmd;
    this.#blocking = blocking;
    this.#k = keys;
    this.#o = { ...DEFAULTS, ...opts };
  }

  /**
   * `lost`: called if the batch holding `msg` surely did not reach Redis (it is down, it refused
   * it): answer its origin now. Not called when the batch's fate is unknown (sent, no answer).
   */
  post(to: string, msg: Buffer, lost?: () => void): void {
    this.#out.add(to, msg, lost);
  }

  flush(): Promise<void> {
    return this.#out.flushed;
  }

  async start(handler: (batch: Buffer[]) => void): Promise<void> {
    const key = this.#k.inbox(this.node);
    if (this.#blocking.status === 'wait') await this.#blocking.connect();
    // From the newest entry at start: what was posted to an earlier incarnation is not ours.
    const last = await this.#blocking.xrevrange(key, '+', '-', 'COUNT', 1);
    let id = last[0]?.[0] ?? '0-0';
    this.#lastRead = id;
    let trimmedAt = -Infinity;
    this.#reading = (async () => {
      while (!this.#closed) {
        let res: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
        try {
          res = (await this.#blocking.xreadBuffer('COUNT', 256, 'BLOCK', this.#o.blockMs, 'STREAMS', key, id)) as typeof res;
        } catch {
          if (this.#closed) return;
          await new Promise((r) => setTimeout(r, 100)); // Redis away: the connection reconnects by itself
          continue;
        }
        if (!res) continue;
        for (const [, entries] of res) {
          for (const [entryId, fields] of entries) {
            id = this.#lastRead = entryId.toString();
            const packed = fields[1];
            if (packed) handler(unpackBatch(packed));
          }
        }
        // What was read is trimmed about once a second, not after every read (MAXLEN bounds the stream meanwhile).
        const now = performance.now();
        if (now - trimmedAt >= TRIM_EVERY_MS) {
          trimmedAt = now;
          void this.#cmd.xtrim(key, 'MINID', id).catch(() => {});
        }
      }
    })();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reading = this.#blocking.status === 'ready';
    this.#blocking.disconnect();
    // While Redis is away ioredis holds the queued XREAD, and a disconnect then never settles it:
    // nothing to wait for (a pending promise holds no handle).
    if (reading) await this.#reading;
  }

  /**
   * Three commands in one round trip, at scrape time only: what was read is trimmed first (the
   * reader trims lazily, about once a second), so the stream's length is exactly what is unread;
   * the oldest unread entry's id is its XADD time by Redis's clock, compared with Redis's TIME.
   */
  async stats(): Promise<InboxStats> {
    const key = this.#k.inbox(this.node);
    const after = nextStreamId(this.#lastRead);
    const res = await this.#cmd.pipeline().xtrim(key, 'MINID', after).xlen(key).xrange(key, after, '+', 'COUNT', 1).time().exec();
    for (const [err] of res ?? []) if (err) throw err;
    const depth = Number(res![1]![1]);
    const oldest = (res![2]![1] as Array<[string, unknown]>)[0]?.[0];
    const [sec, usec] = res![3]![1] as [string, string];
    const nowMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    return { depth, lagMs: oldest === undefined ? 0 : Math.max(0, nowMs - Number(oldest.split('-')[0])) };
  }

  /**
   * Empties the stream and leaves it to its expiry rather than deleting it: a sender renews a
   * destination's expiry only once per quarter of it, so its next post would re-create a deleted
   * key with no expiry at all (a key with neither owner nor expiry if that node never returns).
   */
  async drop(node: string): Promise<void> {
    const key = this.#k.inbox(node);
    const res = await this.#cmd.pipeline().xtrim(key, 'MAXLEN', 0).pexpire(key, this.#o.idleTtlMs).exec();
    for (const [err] of res ?? []) if (err) throw err;
  }

  async #send(out: ReadonlyMap<string, OutboxBatch>): Promise<void> {
    const p = this.#cmd.pipeline();
    for (const [to, q] of out) {
      const key = this.#k.inbox(to);
      p.xadd(key, 'MAXLEN', '~', this.#o.maxBatches, '*', 'b', packBatch(q.msgs));
      const now = performance.now();
      if (now - (this.#expiryRenewed.get(to) ?? -Infinity) >= this.#o.idleTtlMs / 4) {
        this.#expiryRenewed.set(to, now);
        p.pexpire(key, this.#o.idleTtlMs);
      }
    }
    let failure: unknown;
    const sent = readyToSend(this.#cmd);
    let unknown = false;
    try {
      const res = await p.exec();
      for (const [err] of res ?? []) {
        if (!err) continue;
        failure ??= err;
        unknown ||= outcomeUnknown(sent, err);
      }
    } catch (err) {
      failure = err;
      unknown = outcomeUnknown(sent, err);
    }
    if (failure === undefined) return;
    for (const to of out.keys()) this.#expiryRenewed.delete(to); // the next batch sets the expiry again
    // Written but unanswered (a timeout, the connection dropped after the write): Redis may hold
    // the batch, and its destination then reads it once Redis answers again. Calling `lost` would
    // answer origins whose message is still delivered (an answer at once, then the object's):
    // their backstops answer them instead, once (the tracker's timeout, or the wait's deadline).
    if (!unknown) for (const q of out.values()) for (const f of q.lost) f?.();
    throw failure;
  }
}

/** The smallest stream id after `id` ('ms-seq'). */
function nextStreamId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}
