import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { payloadFromJson, payloadToJson, JsonPayloadError, type Payload } from '../protocol/index.js';
import type { ResponseTarget } from '../routing/request-tracker.js';
import { HttpApiError, clusterUnavailable } from './errors.js';
import { isGone, sendError, sendJson } from './reply.js';
import type { RequestBody } from './schemas.js';

/** The one Router method the HTTP API needs (PROTOCOL §5: tracking -1 = pick a free number). */
export interface CentralRequester {
  centralRequest(uid: string, tracking: number, payload: Payload, origin: ResponseTarget, timeoutMs: number): number;
}

export interface HeldRequestOptions {
  readonly defaultTimeoutSec: number;
  readonly maxWaitSec: number;
  readonly maxHeld: number;
}

/**
 * POST /request: the HTTP exchange is held open until the tracker settles the request
 * (exactly once: the object's response, 0xA0, 0xA1...). A caller that disconnects first
 * leaves its tracking number reserved until then, so no later request can receive its answer;
 * the answer is discarded.
 */
export class HeldRequests {
  readonly #router: CentralRequester;
  readonly #opts: HeldRequestOptions;
  readonly #log: Logger;
  readonly #closing: () => boolean;
  #held = 0;

  constructor(router: CentralRequester, opts: HeldRequestOptions, log: Logger, closing: () => boolean) {
    this.#router = router;
    this.#opts = opts;
    this.#log = log;
    this.#closing = closing;
  }

  /** HTTP requests waiting for their object's answer. */
  get held(): number {
    return this.#held;
  }

  start(body: RequestBody, res: ServerResponse): void {
    const payload = payloadFromJson(body.Format, body.Payload);
    if (payload instanceof JsonPayloadError) throw new HttpApiError(payload.code, payload.message, { extra: { field: payload.field } });
    if (this.#held >= this.#opts.maxHeld) throw new HttpApiError('ERR_IOTS_HTTP_OVERLOADED', `too many requests waiting (${this.#opts.maxHeld}); retry later`, { headers: { 'Retry-After': '1' } });
    const timeoutMs = Math.min(body.Timeout ?? this.#opts.defaultTimeoutSec, this.#opts.maxWaitSec) * 1000;
    let settled = false;
    const origin: ResponseTarget = {
      deliverResponse: (uid, tracking, code, answer, reason) => {
        if (settled) return;
        settled = true;
        this.#held--;
        if (isGone(res)) {
          this.#log.debug({ event: 'http-answer-discarded', uid, tracking, code }, 'HTTP caller left before the answer');
          return;
        }
        this.#answer(res, code, answer, uid, reason);
      },
    };
    this.#held++;
    try {
      this.#router.centralRequest(body.UID, -1, payload, origin, timeoutMs);
    } catch (err) {
      if (!settled) [settled, this.#held] = [true, this.#held - 1]; // a 500 follows; keep the count exact
      throw err;
    }
  }

  #answer(res: ServerResponse, code: number, answer: Payload, uid: string, reason: string | undefined): void {
    const close = this.#closing();
    // PROTOCOL §8: the concentrator's own codes come with `Payload: null`; `Reason` says why.
    // A cluster that cannot reach its engine refuses at once: the caller may retry, maybe at another node.
    if (reason === 'cluster-unavailable') {
      return sendError(res, clusterUnavailable({ extra: { Reason: reason } }), close);
    }
    if (reason !== undefined) return sendJson(res, 200, { Code: code, Payload: null, Format: 'JSON', Reason: reason }, {}, close);
    const json = payloadToJson(answer);
    let text: string | undefined;
    if (!(json instanceof JsonPayloadError)) {
      try {
        text = JSON.stringify({ Code: code, Payload: json.Payload, Format: json.Format });
      } catch {
        text = undefined; // nesting too deep to serialise
      }
    }
    if (text === undefined) {
      const why = json instanceof JsonPayloadError ? json.message : 'Payload: nested too deeply to be written as JSON';
      this.#log.warn({ event: 'http-answer-not-json', uid, code, format: answer.format }, 'object answer has no JSON form');
      return sendError(res, new HttpApiError('ERR_IOTS_RESPONSE_NOT_JSON', `the object's answer cannot be shown as JSON: ${why}`, { extra: { Code: code } }), close);
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...(close ? { Connection: 'close' } : {}) }).end(text);
  }
}
