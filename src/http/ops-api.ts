import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { Acl } from '../registry/acl.js';
import type { Session } from '../registry/session.js';
import type { DirectoryEntry } from '../registry/session-directory.js';
import type { SessionManager } from '../registry/session-manager.js';
import { CloseCode } from '../protocol/index.js';
import { BearerAuth } from './auth.js';
import { sendConsole } from './console.js';
import { HttpApiError, clusterUnavailable } from './errors.js';
import type { DrainStatus } from '../registry/drain-status.js';
import { sendError, sendJson } from './reply.js';

/** Operations URIs: health and metrics (no auth), admin (Bearer). docs/openapi-admin.yaml lists them. */
export const OPS_ROUTES = Object.freeze({
  '/healthz': ['GET'], '/readyz': ['GET'], '/metrics': ['GET'],
  '/sessions': ['GET'], '/sessions/{uid}': ['GET', 'DELETE'], '/acl': ['GET'],
  '/admin/bans': ['GET'], '/admin/bans/{ip}': ['DELETE'], '/admin/drain': ['GET', 'POST', 'DELETE'], '/console': ['GET'],
} as const);

/** No Bearer: nothing secret. The console page holds no data; it asks the admin routes with the key typed into it. */
const PUBLIC = new Set(['/healthz', '/readyz', '/metrics', '/console']);
const PARAM_ROUTES = [['/sessions/', '/sessions/{uid}'], ['/admin/bans/', '/admin/bans/{ip}']] as const;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** A cluster's sessions, fleet-wide, from its shared directory (src/cluster/fleet.ts). */
export interface FleetSessionsView {
  list(after: string | undefined, count: number): Promise<{ entries: DirectoryEntry[]; next?: string }>;
  lookup(uid: string): Promise<DirectoryEntry | undefined>;
  /** What is buffered for a kept session. */
  buffered(uid: string): Promise<number>;
  /** Ends the UID's session wherever it is (Close 0x01 to its connection, 0xA0 to its buffered requests). False: none. */
  end(uid: string): Promise<boolean>;
}

/** A cluster node's drain (src/cluster/drain.ts). */
export interface DrainControl {
  start(rate?: number): Promise<DrainStatus>;
  cancel(): Promise<DrainStatus>;
  status(): DrainStatus;
}

export interface OpsDeps {
  readonly authKey: Buffer;
  readonly sessions: SessionManager;
  readonly acl: () => Acl;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly log: Logger;
  /** Failed-authentication bans (the session layer's AdmissionGuard fits this shape). */
  readonly bans: { bans(): Array<{ readonly ip: string; readonly until: string }>; lift(ip: string): boolean };
  /** This concentrator's name in session views: one node today, the holder of each session once clustered. */
  readonly node: string;
  /** `admin.console`: serve the web console at /console. */
  readonly console: boolean;
  /** Listeners bound, ACL loaded, not draining (and in a cluster: the shared engine reachable, the lease live). */
  ready(): boolean;
  /** Set in a cluster: /sessions lists the fleet, each session with the node holding it. */
  readonly fleet?: FleetSessionsView;
  /** Set in a cluster: /admin/drain empties this node onto the others. */
  readonly drain?: DrainControl;
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
    if (path === '/console') return this.#d.console;
    return PUBLIC.has(path) || path === '/sessions' || path.startsWith('/sessions/') || path === '/admin/bans' || path.startsWith('/admin/bans/') || path === '/admin/drain';
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
    const route = PARAM_ROUTES.find(([prefix]) => path.startsWith(prefix))?.[1] ?? path;
    const methods = (OPS_ROUTES as Record<string, readonly string[]>)[route];
    if (!methods || (route === '/console' && !this.#d.console)) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `${JSON.stringify(path)}: no such URI`);
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
      case '/admin/bans': return sendJson(res, 200, { bans: this.#d.bans.bans().map((b) => ({ IP: b.ip, Until: b.until })) });
      case '/admin/bans/{ip}': return this.#lift(param(path, '/admin/bans/'), res);
      case '/admin/drain': return this.#drain(url, req.method!, res);
      case '/console': return sendConsole(res);
      default: return this.#one(param(path, '/sessions/'), req.method!, res);
    }
  }

  /** GET: the drain's status; POST (`?rate=` sessions per second, default cluster.drainRate): starts it, 202; DELETE: cancels it. */
  async #drain(url: URL, method: string, res: ServerResponse): Promise<void> {
    const drain = this.#d.drain;
    if (!drain) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', '/admin/drain: this node is not in a cluster (no cluster key): there is no other node to drain to');
    if (method === 'GET') return sendJson(res, 200, drain.status());
    if (method === 'DELETE') return sendJson(res, 200, await drain.cancel());
    const text = url.searchParams.get('rate');
    const rate = text === null ? undefined : Number(text);
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0 && rate <= MAX_DRAIN_RATE)) {
      throw new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `rate: must be a number of sessions per second above 0 and at most ${MAX_DRAIN_RATE}, not ${JSON.stringify(text)}`);
    }
    const status = await drain.start(rate);
    this.#d.log.warn({ event: 'drain-asked', rate: status.rate }, 'drain asked through the admin API');
    sendJson(res, 202, status);
  }

  async #metrics(res: ServerResponse): Promise<void> {
    const { registry } = this.#d.metrics;
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) }).end(text);
  }

  #lift(ip: string, res: ServerResponse): void {
    if (isIP(ip) === 0) throw new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `ip: ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
    if (!this.#d.bans.lift(ip)) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `ip ${JSON.stringify(ip)}: not banned`);
    this.#d.log.info({ event: 'ban-lifted', ip }, `ban on ${ip} lifted through the admin API`);
    sendJson(res, 204, undefined);
  }

  /**
   * Sorted by UID; `cursor` is the last UID of the previous page, so pages stay stable while
   * sessions come and go. `uid` keeps the UIDs that contain it, `group` one group.
   */
  #list(url: URL, res: ServerResponse): void | Promise<void> {
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `limit: must be an integer from 1 to ${MAX_PAGE}`);
    const cursor = url.searchParams.get('cursor');
    const uid = url.searchParams.get('uid') || null;
    const group = url.searchParams.get('group') || null;
    if (this.#d.fleet) return this.#listFleet(this.#d.fleet, { limit, cursor, uid, group }, res);
    const all = [...this.#d.sessions.store.values()]
      .filter((s) => (cursor === null || s.uid > cursor) && (uid === null || s.uid.includes(uid)) && (group === null || s.group === group))
      .sort((a, b) => (a.uid < b.uid ? -1 : 1));
    const page = all.slice(0, limit);
    sendJson(res, 200, { sessions: page.map((s) => this.#view(s)), next: all.length > limit ? page[page.length - 1]!.uid : null });
  }

  /** The fleet's pages, filtered as the single node's; a filter that matches little reads further pages (bounded). */
  async #listFleet(fleet: FleetSessionsView, q: { limit: number; cursor: string | null; uid: string | null; group: string | null }, res: ServerResponse): Promise<void> {
    const out: DirectoryEntry[] = [];
    let after = q.cursor ?? undefined;
    let more = true;
    for (let scanned = 0; more && out.length <= q.limit && scanned < FLEET_SCAN_MAX; ) {
      const page = await unavailableAs503(fleet.list(after, Math.max(q.limit + 1, 100)));
      scanned += page.entries.length;
      for (const e of page.entries) if ((q.uid === null || e.uid.includes(q.uid)) && (q.group === null || e.group === q.group)) out.push(e);
      more = page.next !== undefined;
      after = page.next;
    }
    const shown = out.slice(0, q.limit);
    const views = await Promise.all(shown.map(async (e) => this.#entryView(e, e.state === 'kept' ? await unavailableAs503(fleet.buffered(e.uid)) : 0)));
    const next = out.length > q.limit || more ? shown.at(-1)?.uid ?? null : null;
    sendJson(res, 200, { sessions: views, next });
  }

  #entryView(e: DirectoryEntry, buffered: number) {
    return { UID: e.uid, Kind: e.kind, Group: e.group, Peer: e.peer, TLS: e.tls, State: e.state, Since: new Date(e.since).toISOString(), Buffered: buffered, Node: e.node };
  }

  async #oneInFleet(fleet: FleetSessionsView, uid: string, method: string, res: ServerResponse): Promise<void> {
    const e = await unavailableAs503(fleet.lookup(uid));
    if (!e) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `UID ${JSON.stringify(uid)}: no session`);
    if (method === 'GET') return sendJson(res, 200, this.#entryView(e, e.state === 'kept' ? await unavailableAs503(fleet.buffered(uid)) : 0));
    await unavailableAs503(fleet.end(uid));
    this.#d.log.info({ event: 'session-ended-by-admin', uid, node: e.node }, 'session ended through the admin API');
    sendJson(res, 204, undefined);
  }

  #one(uid: string, method: string, res: ServerResponse): void | Promise<void> {
    if (this.#d.fleet) return this.#oneInFleet(this.#d.fleet, uid, method, res);
    const s = this.#d.sessions.get(uid);
    if (!s) throw new HttpApiError('ERR_IOTS_HTTP_NOT_FOUND', `UID ${JSON.stringify(uid)}: no session`);
    if (method === 'GET') return sendJson(res, 200, this.#view(s));
    this.#d.sessions.end(s, 'admin', CloseCode.MAINTENANCE);
    this.#d.log.info({ event: 'session-ended-by-admin', uid }, 'session ended through the admin API');
    sendJson(res, 204, undefined);
  }

  #view(s: Session) {
    const since = new Date(Date.now() - (this.#d.clock.now() - s.since)).toISOString();
    return { UID: s.uid, Kind: s.kind, Group: s.group, Peer: s.peer, TLS: s.tls, State: s.state, Since: since, Buffered: s.bufferIfMade?.count ?? 0, Node: this.#d.node };
  }
}

/** A drain's rate at most (sessions per second): beyond, the reconnect storm is the other nodes' problem. */
const MAX_DRAIN_RATE = 100_000;

/** Entries a filtered fleet listing reads at most per page asked. */
const FLEET_SCAN_MAX = 20_000;

/** The shared engine is away: 503, never a hang or a 500. */
async function unavailableAs503<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw clusterUnavailable({ cause: err });
  }
}

/** The path parameter after `prefix`; a malformed %-escape is the caller's error, not a 500. */
function param(path: string, prefix: string): string {
  const raw = path.slice(prefix.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpApiError('ERR_IOTS_HTTP_BAD_FIELD', `${JSON.stringify(raw)}: malformed percent-encoding in the path`);
  }
}
