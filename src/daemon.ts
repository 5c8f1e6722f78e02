import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/types.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { CloseCode, ResponseCode, ToT } from './protocol/index.js';
import { AclService } from './registry/acl-service.js';
import { MemorySessionStore, type Session, type SessionStore } from './registry/session.js';
import { SessionManager } from './registry/session-manager.js';
import { TokenRegistry } from './registry/token-registry.js';
import { RequestTracker } from './routing/request-tracker.js';
import { Router } from './routing/router.js';
import { TcpServer } from './servers/tcp-server.js';
import type { Connection } from './session/connection.js';
import { SessionHost } from './session/session-host.js';

export interface ConcentratorDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly store?: SessionStore;
  readonly metrics?: Metrics;
}

export interface BoundAddresses {
  tcp: AddressInfo;
  udp?: AddressInfo;
  http?: AddressInfo;
}

/** The parts a test or an embedding program may look at. */
export interface ConcentratorInternals {
  readonly sessions: SessionManager;
  readonly tracker: RequestTracker;
  readonly router: Router;
  readonly tokens: TokenRegistry;
  readonly acl: AclService;
  readonly metrics: Metrics;
  readonly host: SessionHost;
}

export interface Concentrator {
  start(): Promise<BoundAddresses>;
  /** Graceful: stop accepting, Close 0x01 to every session, answer every pending request. Idempotent. */
  close(): Promise<void>;
  /** Immediate: drop every socket. Idempotent. */
  destroy(): void;
  readonly addresses: BoundAddresses | undefined;
  readonly internals: ConcentratorInternals;
}

/** Wires the modules together; importing this file does nothing. */
export function createConcentrator(config: Config, deps: ConcentratorDeps = {}): Concentrator {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger ?? createLogger({ level: config.log.level });
  const metrics = deps.metrics ?? new Metrics();
  const tokens = new TokenRegistry(clock, Math.max(10_000, config.tcp.maxConnections * 3));

  const tracker = new RequestTracker(clock, {
    settled: (p, code, generated, now) => {
      metrics.countRequest(p.dir, code);
      if (!generated) metrics.requestDuration.labels(p.dir).observe((now - p.startedAt) / 1000);
    },
  });
  const sessions = new SessionManager(clock, { keepSessionMs: config.keepSessionSec * 1000, buffers: config.buffers }, {
    started: (s) => sessionEvent(s, 'started'),
    resumed: (s, replayed) => sessionEvent(s, 'resumed', { replayed }),
    kept: (s, reason) => sessionEvent(s, 'kept', { reason }),
    ended: (s, reason) => sessionEvent(s, 'ended', { reason }),
    dropped: (uid, why) => {
      metrics.dropped.labels(why).inc();
      log.warn({ event: 'dropped', uid, reason: why }, 'transmission dropped: no session or buffer full');
    },
  }, deps.store ?? new MemorySessionStore());

  function sessionEvent(s: Session, event: string, extra: Record<string, unknown> = {}): void {
    metrics.sessionEvents.labels(s.kind, event).inc();
    log.info({ event: `session-${event}`, uid: s.uid, kind: s.kind, peer: s.peer, tls: s.tls, ...extra }, `session ${event}`);
  }

  const acl = new AclService(config.acl.file, Object.keys(config.groups), {
    revoked: (uid) => {
      tokens.revoke(uid);
      const s = sessions.get(uid);
      if (s) sessions.end(s, 'revoked', CloseCode.MAINTENANCE);
    },
  });

  const router = new Router(sessions, tracker, {
    requestTimeoutMs: config.tcp.requestTimeoutSec * 1000,
    maxInFlightPerObject: config.limits.maxRequestsInFlightPerObject,
    maxInFlightPerTarget: config.limits.maxRequestsInFlightPerTarget,
    acl: () => acl.current,
  }, {
    lateResponse: (dir, uid, tracking) => {
      metrics.lateResponses.labels(dir).inc();
      log.debug({ event: 'late-response', dir, uid, tracking }, 'late response dropped');
    },
    refused: (reason) => metrics.refusedRequests.labels(reason).inc(),
    telemetryDropped: (reason) => metrics.telemetry.labels('dropped', reason).inc(),
  });

  let secureContext: SecureContext | undefined;
  const host = new SessionHost({
    config, clock, log, metrics, sessions, router, acl,
    secureContext: () => secureContext,
    onAuthenticated: (s, conn) => issueToken(s, conn),
  });

  /** PROTOCOL §7: a token on every authentication of a telemetry group's object, renewed before expiry. */
  function issueToken(s: Session, conn: Connection): void {
    const group = config.groups[s.group];
    if (s.kind !== 'object' || !group?.telemetry) return;
    const lifetimeMs = group.telemetryTokenExpMin * 60_000;
    const { token } = tokens.issue(s.uid, s.group, lifetimeMs);
    conn.send({ type: ToT.TOKEN, token });
    clock.clearTimeout(s.tokenTimer);
    s.tokenTimer = lifetimeMs > 0
      ? clock.setTimeout(() => { if (s.link === conn && s.state === 'connected') issueToken(s, conn); }, lifetimeMs * 0.8)
      : undefined;
  }

  const tcpServer = new TcpServer((socket: Socket) => host.accept(socket));
  let addresses: BoundAddresses | undefined;
  let closing: Promise<void> | undefined;
  let destroyed = false;

  async function start(): Promise<BoundAddresses> {
    await acl.load();
    if (config.tcp.tls) secureContext = loadSecureContext(config.tcp.tls);
    const tcp = await tcpServer.listen(config.tcp.host, config.tcp.port);
    addresses = { tcp };
    log.info({ event: 'listening', tcp: `${tcp.address}:${tcp.port}`, tls: Boolean(secureContext), acl: acl.current.size }, 'concentrator started');
    return addresses;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      host.drain();
      const stopped = tcpServer.close();
      // Every pending request is answered before its origin's session gets Close 0x01.
      tracker.failAll(ResponseCode.NOT_FOUND);
      sessions.endAll('shutdown', CloseCode.MAINTENANCE);
      tokens.clear();
      await acl.flush();
      await host.whenEmpty(SHUTDOWN_GRACE_MS);
      host.destroyAll();
      await stopped;
      log.info({ event: 'stopped' }, 'concentrator stopped');
    })();
    return closing;
  }

  function destroy(): void {
    if (destroyed) return;
    destroyed = true;
    host.drain();
    void tcpServer.close();
    host.destroyAll();
    tokens.clear();
  }

  return {
    start, close, destroy,
    get addresses() { return addresses; },
    internals: { sessions, tracker, router, tokens, acl, metrics, host },
  };
}

const SHUTDOWN_GRACE_MS = 2_000;

function loadSecureContext(files: { cert: string; key: string }): SecureContext {
  return createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' });
}
