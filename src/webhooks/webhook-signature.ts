import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): every webhook message gets
 * `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `${id}.${timestamp}.${body}`, keyed with the secret's bytes.
 */

export { WEBHOOK_SECRET_PREFIX, WEBHOOK_SECRET_MIN_BYTES, WEBHOOK_SECRET_MAX_BYTES, decodeWebhookSecret } from '../config/webhook-secret.js';

/** The three headers of one signed message. */
export interface SignatureHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/** `v1,<base64>` for one message: the function a receiver recomputes. */
export function webhookSignature(key: Buffer, id: string, timestampSec: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/**
 * Signs messages with one secret. Each call is a new message: a new id, the clock's time.
 * Callers sign once per message and resend the same headers on every retry, so the id
 * stays stable (receivers deduplicate on it) and the HMAC is never recomputed.
 */
export class WebhookSigner {
  readonly #key: Buffer;
  readonly #clock: Clock;
  readonly #newId: () => string;

  constructor(key: Buffer, clock: Clock, newId: () => string = () => `msg_${randomUUID()}`) {
    this.#key = key;
    this.#clock = clock;
    this.#newId = newId;
  }

  sign(body: string): SignatureHeaders {
    const id = this.#newId();
    const timestamp = Math.floor(this.#clock.epochMs() / 1000);
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': webhookSignature(this.#key, id, timestamp, body) };
  }
}
