import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import { ResponseCode, type Payload } from '../protocol/index.js';
import type { PendingRequest, RequestTracker } from '../routing/request-tracker.js';
import type { CentralWebhookPort } from '../routing/router.js';
import { RequestWebhook } from './request-webhook.js';
import { QueuedWebhook, queueLimits } from './queued-webhook.js';
import { JsonPayloadError } from '../protocol/json-payload.js';
import { WebhookClient, WebhookConfigError, parseWebhookUrl, webhookBody } from './webhook-client.js';

export type PresenceEvent = 'started' | 'resumed' | 'kept' | 'ended' | 'expired' | 'refused';

export interface WebhookPortDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly tracker: RequestTracker;
  /** The webhook answered a request that was already settled. */
  late(uid: string, tracking: number): void;
}

/**
 * The central's HTTP side (PROTOCOL §8) as the router sees it. `open()` (from the daemon's
 * start) reads the CA; until then, and after close(), requests get 0x01 and telemetry is dropped.
 */
export class WebhookPort implements CentralWebhookPort {
  readonly #central: Config['central'];
  readonly #deps: WebhookPortDeps;
  readonly #requestUrl: URL | undefined;
  readonly #telemetryUrl: URL | undefined;
  readonly #presenceUrl: URL | undefined;
  #presence: QueuedWebhook | undefined;
  #client: WebhookClient | undefined;
  #request: RequestWebhook | undefined;
  #telemetry: QueuedWebhook | undefined;
  #ended = false;

  /** Throws WebhookConfigError (ERR_IOTS_WEBHOOK_URL) for a URL that is not http(s). */
  constructor(central: Config['central'], deps: WebhookPortDeps) {
    this.#central = central;
    this.#deps = deps;
    const hooks = central.webhooks;
    this.#requestUrl = hooks.request ? parseWebhookUrl('request', hooks.request) : undefined;
    this.#telemetryUrl = hooks.telemetry ? parseWebhookUrl('telemetry', hooks.telemetry) : undefined;
    this.#presenceUrl = hooks.presence ? parseWebhookUrl('presence', hooks.presence) : undefined;
  }

  get handlesRequests(): boolean {
    return this.#requestUrl !== undefined;
  }

  get handlesTelemetry(): boolean {
    return this.#telemetryUrl !== undefined;
  }


  /** Reads the custom CA, if any, and makes the webhooks usable. Throws ERR_IOTS_WEBHOOK_CA. */
  async open(): Promise<void> {
    if (this.#client || this.#ended) return;
    const { webhooks, authKey } = this.#central;
    let ca: Buffer | undefined;
    if (webhooks.ca) {
      try {
        ca = await readFile(webhooks.ca);
      } catch (cause) {
        throw new WebhookConfigError('ERR_IOTS_WEBHOOK_CA', `central.webhooks.ca: cannot read ${webhooks.ca}`, cause);
      }
    }
    const { clock, log, metrics, tracker } = this.#deps;
    const client = new WebhookClient({ authKey, signingKey: webhooks.secret, ca, clock, metrics, connectionsPerOrigin: webhooks.connections });
    const timeoutMs = webhooks.timeoutSec * 1000;
    this.#client = client;
    if (this.#requestUrl) this.#request = new RequestWebhook(this.#requestUrl, { client, tracker, log, timeoutMs, late: this.#deps.late });
    const limits = queueLimits(webhooks);
    const queued = { client, clock, log, metrics, timeoutMs };
    if (this.#telemetryUrl) this.#telemetry = new QueuedWebhook('telemetry', this.#telemetryUrl, queued, limits);
    if (this.#presenceUrl) this.#presence = new QueuedWebhook('presence', this.#presenceUrl, queued, limits);
  }

  forwardRequest(p: PendingRequest, payload: Payload): void {
    if (this.#request) this.#request.forward(p, payload);
    else this.#deps.tracker.fail(p, ResponseCode.NOT_VALID, 'webhook-error');
  }

  forwardTelemetry(uid: string, payload: Payload): void {
    const hook = this.#telemetry;
    if (!hook) return void this.#deps.metrics.webhookQueueDropped.labels('telemetry', 'shutdown').inc();
    const body = webhookBody(uid, payload);
    if (body instanceof JsonPayloadError) return void hook.drop('unconvertible', uid, body.message);
    hook.enqueue(uid, body);
  }

  get handlesPresence(): boolean {
    return this.#presenceUrl !== undefined;
  }

  /** A presence event: `{"UID", "Event", "Reason", "At"}` to the presence webhook, same delivery rules as telemetry. */
  presence(uid: string, event: PresenceEvent, reason: string | undefined, at: Date): void {
    this.#presence?.enqueue(uid, JSON.stringify({ UID: uid, Event: event, Reason: reason ?? null, At: at.toISOString() }));
  }

  /** Telemetry held for the webhook (queued, posting, waiting to retry). */
  get telemetryHeld(): number {
    return this.#telemetry?.held ?? 0;
  }

  /** Drops held telemetry (counted), aborts in-flight POSTs, closes the pools. Idempotent. */
  close(): Promise<void> {
    this.#end();
    return this.#client?.close() ?? Promise.resolve();
  }

  /** Like close(), dropping the sockets at once. Idempotent. */
  destroy(): Promise<void> {
    this.#end();
    return this.#client?.destroy() ?? Promise.resolve();
  }

  #end(): void {
    this.#ended = true;
    this.#request = undefined;
    this.#telemetry?.close();
    this.#presence?.close();
  }
}
