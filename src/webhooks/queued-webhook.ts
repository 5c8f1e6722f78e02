import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Config } from '../config/types.js';
import { WEBHOOK_PIPELINING, type PostResult, type WebhookClient, type WebhookMessage } from './webhook-client.js';

export interface TelemetryQueueLimits {
  /** Items held at once: queued, being posted, or waiting to retry. */
  readonly maxQueued: number;
  /** Bytes of JSON bodies held at once (a BINARY payload is ~4 bytes of JSON per byte). */
  readonly maxQueuedBytes: number;
  /** POSTs in flight at once: the pool's sockets × the pipelining on each. */
  readonly concurrency: number;
  /** Attempts per item, the first included. */
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** The bounds from `central.webhooks.*` (their defaults live in the config schema only). */
export function queueLimits(w: Config['central']['webhooks']): TelemetryQueueLimits {
  return {
    maxQueued: w.queueMaxItems, maxQueuedBytes: w.queueMaxBytes, concurrency: w.connections * WEBHOOK_PIPELINING,
    maxAttempts: w.maxAttempts, backoffBaseMs: w.retryBaseSec * 1000, backoffMaxMs: w.retryMaxSec * 1000,
  };
}

export type QueueDropReason = 'queue-full' | 'gave-up' | 'rejected' | 'unconvertible' | 'shutdown';

export interface QueuedWebhookDeps {
  readonly client: WebhookClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly timeoutMs: number;
}

interface Item {
  readonly uid: string;
  /** Built (and signed) once: every retry resends the same webhook-id and signature. */
  readonly msg: WebhookMessage;
  attempt: number;
}

const WARN_EVERY_MS = 10_000;

export type QueuedHook = 'telemetry' | 'presence';

/**
 * A fire-and-forget webhook (telemetry, PROTOCOL §7 §8; presence events): a bounded queue,
 * bounded concurrent POSTs, retries with exponential backoff on connection errors, timeouts,
 * 5xx, 408 and 429. Delivery is at least once and unordered; everything not delivered is
 * counted by reason.
 */
export class QueuedWebhook {
  readonly #hook: QueuedHook;
  readonly #url: URL;
  readonly #d: QueuedWebhookDeps;
  readonly #limits: TelemetryQueueLimits;
  readonly #queue: Item[] = [];
  readonly #retryTimers = new Map<TimerHandle, Item>();
  readonly #lastWarn = new Map<QueueDropReason, number>();
  #held = 0;
  #heldBytes = 0;
  #active = 0;
  #closed = false;

  constructor(hook: QueuedHook, url: URL, deps: QueuedWebhookDeps, limits: TelemetryQueueLimits) {
    this.#hook = hook;
    this.#url = url;
    this.#d = deps;
    this.#limits = limits;
  }

  /** Items held (queued, posting, waiting to retry). */
  get held(): number {
    return this.#held;
  }

  /** Takes one JSON body about `uid`; false when it was dropped at once (counted). */
  enqueue(uid: string, body: string): boolean {
    if (this.#closed) return this.#drop('shutdown', uid);
    if (this.#held >= this.#limits.maxQueued || this.#heldBytes + body.length > this.#limits.maxQueuedBytes) {
      return this.#drop('queue-full', uid);
    }
    this.#hold(body.length);
    this.#queue.push({ uid, msg: this.#d.client.message(body), attempt: 0 });
    this.#pump();
    return true;
  }

  /** Drops what is queued or waiting to retry (counted 'shutdown'); in-flight POSTs end with the client. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [timer, item] of this.#retryTimers) {
      this.#d.clock.clearTimeout(timer);
      this.#release(item, 'shutdown');
    }
    this.#retryTimers.clear();
    for (const item of this.#queue.splice(0)) this.#release(item, 'shutdown');
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#limits.concurrency && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      this.#active++;
      void this.#attempt(item);
    }
  }

  async #attempt(item: Item): Promise<void> {
    item.attempt++;
    const r = await this.#d.client.post(this.#hook, this.#url, item.msg, this.#d.timeoutMs, false);
    this.#active--;
    if (r.outcome === 'success') this.#release(item);
    else if (this.#closed || r.outcome === 'closed') this.#release(item, 'shutdown');
    else if (!retryable(r)) this.#release(item, 'rejected', r);
    else if (item.attempt >= this.#limits.maxAttempts) this.#release(item, 'gave-up', r);
    else this.#retryLater(item);
    this.#pump();
  }

  #retryLater(item: Item): void {
    const { backoffBaseMs, backoffMaxMs } = this.#limits;
    const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (item.attempt - 1));
    // Jitter spreads the retries of a burst that failed together.
    const timer = this.#d.clock.setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.#queue.push(item);
      this.#pump();
    }, ceiling * (0.5 + Math.random() / 2));
    this.#retryTimers.set(timer, item);
  }

  #hold(bytes: number): void {
    this.#held++;
    this.#heldBytes += bytes;
    this.#d.metrics.webhookQueued.labels(this.#hook).set(this.#held);
  }

  #release(item: Item, dropped?: QueueDropReason, r?: PostResult): void {
    this.#held--;
    this.#heldBytes -= item.msg.body.length;
    this.#d.metrics.webhookQueued.labels(this.#hook).set(this.#held);
    if (dropped) this.#drop(dropped, item.uid, r && `${r.outcome} ${r.status ?? r.errorCode ?? ''}`.trim());
  }

  /** Counts (and logs, rate-limited) one item that will never be posted. */
  drop(reason: QueueDropReason, uid: string, detail?: string): false {
    return this.#drop(reason, uid, detail);
  }

  #drop(reason: QueueDropReason, uid: string, detail?: string): false {
    this.#d.metrics.webhookQueueDropped.labels(this.#hook, reason).inc();
    const now = this.#d.clock.now();
    const last = this.#lastWarn.get(reason);
    // One warning per reason every 10 s; the rest at debug, so a central outage cannot flood the log.
    const warn = reason !== 'shutdown' && (last === undefined || now - last >= WARN_EVERY_MS);
    if (warn) this.#lastWarn.set(reason, now);
    this.#d.log[warn ? 'warn' : 'debug']({ event: 'webhook-dropped', hook: this.#hook, reason, uid, detail }, `${this.#hook} not delivered to its webhook`);
    return false;
  }
}

function retryable(r: PostResult): boolean {
  if (r.outcome === 'connection-error' || r.outcome === 'timeout') return true;
  const s = r.status ?? 0;
  return s >= 500 || s === 408 || s === 429;
}
