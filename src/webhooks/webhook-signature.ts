import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): every webhook message gets
 * `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `${id}.${timestamp}.${body}`, keyed with the secret's bytes.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The spec's bounds for a secret's decoded length. */
export const WEBHOOK_SECRET_MIN_BYTES = 24;
export const WEBHOOK_SECRET_MAX_BYTES = 64;

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The key bytes of `whsec_<base64>`, or why the text is not one. A secret without the prefix
 * is refused, not guessed at: reading it as UTF-8 or as base64 would each be right for some
 * senders and silently wrong for others, and a wrong guess only shows as failed verifications.
 */
export function decodeWebhookSecret(text: string): Buffer | string {
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) return `must start with "${WEBHOOK_SECRET_PREFIX}" followed by base64 (the Standard Webhooks form)`;
  const b64 = text.slice(WEBHOOK_SECRET_PREFIX.length);
  if (b64 === '' || !STRICT_BASE64.test(b64)) return `the part after "${WEBHOOK_SECRET_PREFIX}" must be standard base64 (A-Z a-z 0-9 + /, = padding)`;
  const key = Buffer.from(b64, 'base64');
  if (key.length < WEBHOOK_SECRET_MIN_BYTES || key.length > WEBHOOK_SECRET_MAX_BYTES) {
    return `must decode to ${WEBHOOK_SECRET_MIN_BYTES}-${WEBHOOK_SECRET_MAX_BYTES} bytes, not ${key.length}`;
  }
  return key;
}

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
