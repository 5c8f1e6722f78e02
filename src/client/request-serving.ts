import { ResponseCode, type Payload } from '../protocol/index.js';
import { EMPTY_PAYLOAD, toPayload, type PayloadInput } from './payload-helpers.js';
import type { IncomingRequest } from './session-client.js';

/** What a request handler returns; `code` defaults to 0x00 and `payload` to an empty BINARY block. */
export interface HandlerResult {
  readonly code?: number;
  readonly payload?: PayloadInput;
}

/** Answers incoming Requests. A throw or rejection is answered with code 0x01 (not valid). */
export type RequestHandler<R extends IncomingRequest = IncomingRequest> = (req: R) => HandlerResult | Promise<HandlerResult>;

/** Runs the handler; a throw, a rejection or an invalid payload becomes code 0x01 (not valid). */
export async function answerWith(handler: RequestHandler, req: IncomingRequest): Promise<{ code: number; payload: Payload }> {
  try {
    const r = await handler(req);
    return { code: r?.code ?? ResponseCode.VALID, payload: toPayload(r?.payload ?? EMPTY_PAYLOAD) };
  } catch {
    return { code: ResponseCode.NOT_VALID, payload: EMPTY_PAYLOAD };
  }
}
