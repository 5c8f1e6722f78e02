import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Acl } from '../registry/acl.js';
import type { Session } from '../registry/session.js';
import type { SessionManager } from '../registry/session-manager.js';
import { CloseCode } from '../protocol/index.js';
import { BearerAuth } from './auth.js';
import { HttpApiError } from './errors.js';
import { sendError, sendJson } from './reply.js';

/** Operations URIs: health and metrics (no auth), admin (Bearer). docs/openapi-admin.yaml lists them. */
export const OPS_ROUTES = Object.freeze({
  '/healthz': ['GET'], '/readyz': ['GET'], '/metrics': ['GET'],
  '/sessions': ['GET'], '/sessions/{uid}': ['GET', 'DELETE'], '/acl': ['GET'],
} as const);

const PUBLIC = new Set(['/healthz', '/readyz', '/metrics']);
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export interface OpsDeps {
  readonly authKey: Buffer;
  readonly sessions: SessionManager;
  readonly acl: () => Acl;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly log: Logger;
  /** Listeners bound, ACL loaded, not draining. */
  ready(): boolean;
}

/** Health, readiness, Prometheus metrics and the admin API; no route here touches a device. */
export class OpsApi {
  readonly #d: OpsDeps;
  readonly #auth: BearerAuth;

  constructor(deps: OpsDeps) {
    this.#d = deps;
    this.#auth = new BearerAuth(deps.authKey);
  }

  /** True for the requests this API answers (so the public listener can share one port). */
  owns(req: IncomingMessage): boolean {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === '/acl') return req.method === 'GET';
    return PUBLIC.has(path) || path === '/sessions' || path.startsWith('/sessions/');
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#serve(req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      const e = err instanceof HttpApiError ? err : new HttpApiError('ERR_IOTS_HTTP_INTERNAL', 'internal error; see the concentrator log', { cause: err });
      if (!(err instanceof HttpApiError)) this.#d.log.error({ event: 'http-internal-error', err, url: req.url }, 'admin request failed');
      sendError(res, e);
    });
  };

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const route = path.startsWith('/sessions/') ? '/sessions/{uid}' : path;
    const methods = (OPS_ROUTES as Record<string, readonly string[]>)[route];
    if (!methods) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `${JSON.stringify(path)}: no such URI`);
    if (!methods.includes(req.method ?? '')) {
      throw new HttpApiError('ERR_IOTS_HTTP_METHOD_NOT_ALLOWED', `${req.method ?? ''} ${route}: method not allowed; use ${methods.join(', ')}`, { headers: { Allow: methods.join(', ') } });
    }
    if (!PUBLIC.has(route)) this.#auth.check(req.headers.authorization);
    switch (route) {
      case '/healthz': return sendJson(res, 200, { status: 'ok' });
      case '/readyz': return this.#d.ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not-ready' });
      case '/metrics': return this.#metrics(res);
      case '/acl': return sendJson(res, 200, this.#d.acl().entries().map((e) => ({ UID: e.uid, GroupName: e.group })));
      case '/sessions': return this.#list(url, res);
      default: return this.#one(decodeURIComponent(path.slice('/sessions/'.length)), req.method!, res);
    }
  }

  async #metrics(res: ServerResponse): Promise<void> {
    const { registry } = this.#d.metrics;
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  /** Sorted by UID; `cursor` is the last UID of the previous page, so pages stay stable while sessions come and go. */
  #list(url: URL, res: ServerResponse): void {
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `limit: must be an integer from 1 to ${MAX_PAGE}`);
    const cursor = url.searchParams.get('cursor');
    const all = [...this.#d.sessions.store.values()].filter((s) => cursor === null || s.uid > cursor).sort((a, b) => (a.uid < b.uid ? -1 : 1));
    const page = all.slice(0, limit);
    sendJson(res, 200, { sessions: page.map((s) => this.#view(s)), next: all.length > limit ? page[page.length - 1]!.uid : null });
  }

  #one(uid: string, method: string, res: ServerResponse): void {
    const s = this.#d.sessions.get(uid);
    if (!s) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `UID ${JSON.stringify(uid)}: no session`);
    if (method === 'GET') return sendJson(res, 200, this.#view(s));
    this.#d.sessions.end(s, 'admin', CloseCode.MAINTENANCE);
    this.#d.log.info({ event: 'session-ended-by-admin', uid }, 'session ended through the admin API');
    sendJson(res, 204, undefined);
  }

  #view(s: Session) {
    const since = new Date(Date.now() - (this.#d.clock.now() - s.since)).toISOString();
    return { UID: s.uid, Kind: s.kind, Group: s.group, Peer: s.peer, TLS: s.tls, State: s.state, Since: since, Buffered: s.buffer.count };
  }
}
