import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AclRejectedError } from '../registry/acl-service.js';
import type { AclEntry } from '../protocol/index.js';
import { BearerAuth } from './auth.js';
import { checkJsonContentType, readBody } from './body.js';
import { HttpApiError } from './errors.js';
import { sendError, sendJson } from './reply.js';
import { HeldRequests, type CentralRequester } from './request-route.js';
import { parseJsonBody } from './safe-json.js';
import { BodyValidators } from './schemas.js';

/** The API's URIs and their one method (PROTOCOL §8). docs/openapi.yaml must list exactly these. */
export const ROUTES = Object.freeze({ '/request': 'POST', '/acl': 'POST' } as const);
type Route = keyof typeof ROUTES;

export interface AclReplacer {
  replace(entries: readonly AclEntry[]): Promise<unknown>;
}

export interface HttpApiOptions {
  /** The central auth key (16 bytes): the Bearer token. */
  readonly authKey: Buffer;
  readonly maxBodyBytes: number;
  /** `Timeout` when the body has none (tcp.requestTimeoutSec). */
  readonly defaultTimeoutSec: number;
  /** Cap on `Timeout` (http.maxWaitSec). */
  readonly maxWaitSec: number;
  /** Nesting allowed in a body (http.maxJsonDepth); deeper, 400. */
  readonly maxJsonDepth: number;
  /** Cap on requests held open at once (http.maxHeldRequests); beyond it, 503. */
  readonly maxHeldRequests: number;
}

/**
 * The HTTP API as a request handler, independent of the server that carries it. Checks run
 * in this order: shutting down (503), path (404), method (405), Bearer (401), Content-Type
 * (415), body size (413), JSON and fields (400).
 */
export class HttpApi {
  readonly #opts: HttpApiOptions;
  readonly #log: Logger;
  readonly #auth: BearerAuth;
  readonly #validators = new BodyValidators();
  readonly #held: HeldRequests;
  readonly #acl: AclReplacer;
  #closing = false;

  constructor(opts: HttpApiOptions, deps: { router: CentralRequester; acl: AclReplacer; log: Logger }) {
    this.#opts = opts;
    this.#log = deps.log;
    this.#auth = new BearerAuth(opts.authKey);
    this.#acl = deps.acl;
    this.#held = new HeldRequests(deps.router, {
      defaultTimeoutSec: opts.defaultTimeoutSec, maxWaitSec: opts.maxWaitSec, maxHeld: opts.maxHeldRequests,
    }, deps.log, () => this.#closing);
  }

  /** Requests held open, waiting for an object's answer. */
  get held(): number {
    return this.#held.held;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** From now on every new request is answered 503 and every answer closes its connection. */
  beginClose(): void {
    this.#closing = true;
  }

  /** The `request` listener of an http(s) server. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#serve(req, res).catch((err: unknown) => this.#fail(req, res, err));
  };

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#refuseIfClosing();
    const url = req.url ?? '';
    // URIs take no query string (PROTOCOL §8): "/request?x" is not a known URI, so 404.
    if (!Object.hasOwn(ROUTES, url)) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `${JSON.stringify(url)}: no such URI; the API has ${Object.keys(ROUTES).join(', ')} (no query string)`);
    const route = url as Route;
    if (req.method !== ROUTES[route]) {
      throw new HttpApiError('ERR_IOTS_HTTP_METHOD_NOT_ALLOWED', `${req.method ?? ''} ${route}: method not allowed; use ${ROUTES[route]}`, { headers: { Allow: ROUTES[route] } });
    }
    this.#auth.check(req.headers.authorization);
    checkJsonContentType(req);
    const body = parseJsonBody(await readBody(req, this.#opts.maxBodyBytes), this.#opts.maxJsonDepth);
    this.#refuseIfClosing(); // close may have started while the body arrived
    if (route === '/request') return this.#held.start(this.#validators.request(body), res);
    await this.#replaceAcl(this.#validators.acl(body), res);
  }

  async #replaceAcl(entries: AclEntry[], res: ServerResponse): Promise<void> {
    try {
      await this.#acl.replace(entries);
    } catch (err) {
      if (!(err instanceof AclRejectedError)) throw err;
      const problems = err.problems.map((p) => ({ Index: p.index, UID: p.uid, Reason: p.reason }));
      throw new HttpApiError('ERR_IOTS_ACL_REJECTED', `ACL rejected, nothing applied: ${err.message.replace(/^ACL rejected: /, '')}`, { extra: { problems } });
    }
    this.#log.info({ event: 'acl-replaced', source: 'http', entries: entries.length }, 'ACL replaced over HTTP');
    sendJson(res, 200, undefined, {}, this.#closing);
  }

  #refuseIfClosing(): void {
    if (this.#closing) throw new HttpApiError('ERR_IOTS_HTTP_SHUTTING_DOWN', 'the concentrator is shutting down', { headers: { 'Retry-After': '5' } });
  }

  #fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (res.headersSent || res.destroyed) return;
    if (!(err instanceof HttpApiError)) {
      if (req.destroyed || req.readableAborted) return; // the caller left while sending its body
      this.#log.error({ event: 'http-internal-error', err, url: req.url }, 'HTTP request failed');
      err = new HttpApiError('ERR_IOTS_HTTP_INTERNAL', 'internal error; see the concentrator log', { cause: err });
    }
    const e = err as HttpApiError;
    this.#log.debug({ event: 'http-refused', status: e.status, code: e.code, url: req.url }, e.message);
    sendError(res, e, this.#closing || !this.#canDiscardBody(req, e));
  }

  /**
   * After a refusal, keep the connection only when Node can skip the rest of the body
   * safely: it is complete, or declared and within the limit. Otherwise (413, chunked,
   * oversized) close, so unread bytes are never parsed as the next request.
   */
  #canDiscardBody(req: IncomingMessage, e: HttpApiError): boolean {
    if (e.code === 'ERR_IOTS_HTTP_BODY_TOO_LARGE') return false;
    if (req.complete) return true;
    const declared = Number(req.headers['content-length']);
    return Number.isFinite(declared) && declared <= this.#opts.maxBodyBytes && req.headers['transfer-encoding'] === undefined;
  }
}
