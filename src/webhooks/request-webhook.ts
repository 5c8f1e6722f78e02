import type { Logger } from 'pino';
import { ResponseCode, type Payload } from '../protocol/index.js';
import { EMPTY_PAYLOAD, type PendingRequest, type RequestTracker } from '../routing/request-tracker.js';
import { JsonPayloadError, JsonPayloadErrorCode, payloadFromJson } from '../protocol/json-payload.js';
import { webhookBody, type WebhookClient } from './webhook-client.js';

export interface RequestWebhookDeps {
  readonly client: WebhookClient;
  readonly tracker: RequestTracker;
  readonly log: Logger;
  readonly timeoutMs: number;
  /** The webhook answered (2xx) after the request was already settled (tracker timeout, shutdown). */
  late(uid: string, tracking: number): void;
}

/** The central's answer, as PROTOCOL §8 defines it. */
export interface WebhookAnswer {
  readonly code: number;
  readonly payload: Payload;
}

/**
 * An object's request to a central without a TCP session (PROTOCOL §8): POST
 * `{"UID","Payload","Format"}`; `200 {"Code","Payload","Format"}` becomes the Response.
 * Any failure settles the request 0x01, no answer in time 0xA1: always exactly once.
 */
export class RequestWebhook {
  readonly #url: URL;
  readonly #d: RequestWebhookDeps;

  constructor(url: URL, deps: RequestWebhookDeps) {
    this.#url = url;
    this.#d = deps;
  }

  forward(p: PendingRequest, payload: Payload): void {
    const body = webhookBody(p.uid, payload);
    if (body instanceof JsonPayloadError) {
      this.#d.log.debug({ event: 'webhook-unconvertible', hook: 'request', uid: p.uid, tracking: p.tracking, reason: body.message }, 'request payload has no JSON form');
      return this.#d.tracker.fail(p, ResponseCode.NOT_VALID, 'webhook-error');
    }
    void this.#post(p, body);
  }

  async #post(p: PendingRequest, body: string): Promise<void> {
    const { client, tracker, log } = this.#d;
    const r = await client.post('request', this.#url, client.message(body), this.#d.timeoutMs, true);
    if (p.settled) {
      // Settled meanwhile (tracker timeout, shutdown): only an answer that did come is late.
      if (r.outcome === 'success') this.#d.late(p.uid, p.tracking);
      return;
    }
    if (r.outcome === 'timeout') return tracker.fail(p, ResponseCode.TIMEOUT, 'webhook-timeout');
    const answer = r.outcome === 'success' ? parseWebhookAnswer(r.text ?? '') : undefined;
    if (answer instanceof JsonPayloadError || answer === undefined) {
      log.warn({
        event: 'webhook-failed', hook: 'request', uid: p.uid, tracking: p.tracking, outcome: r.outcome,
        status: r.status, error: r.errorCode, reason: answer?.message,
      }, 'request webhook failed: the object gets 0x01');
      return tracker.fail(p, ResponseCode.NOT_VALID, 'webhook-error');
    }
    // !p.settled, so the tracker's entry for (uid, tracking) is still this request.
    tracker.complete('up', p.uid, p.tracking, answer.code, answer.payload);
  }
}

/** Reads `{"Code": 0-255, "Payload": ..., "Format": "..."}`; no Format and a null Payload: empty payload. */
export function parseWebhookAnswer(text: string): WebhookAnswer | JsonPayloadError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new JsonPayloadError(JsonPayloadErrorCode.BAD_PAYLOAD, 'body', 'the answer is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return new JsonPayloadError(JsonPayloadErrorCode.BAD_PAYLOAD, 'body', 'the answer is not a JSON object');
  const { Code: code, Payload: data, Format: format } = value as Record<string, unknown>;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 0xff) {
    return new JsonPayloadError(JsonPayloadErrorCode.BAD_PAYLOAD, 'Code', 'Code must be an integer 0-255');
  }
  if ((format === undefined || format === null) && (data === undefined || data === null)) return { code, payload: EMPTY_PAYLOAD };
  const payload = payloadFromJson(format, data);
  return payload instanceof JsonPayloadError ? payload : { code, payload };
}
