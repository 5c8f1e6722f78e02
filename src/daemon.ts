import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config, TlsFiles } from './config/types.js';
import { createLogger } from './observability/logger.js';
import { descriptorsNeeded, fdLimitAdvice, openFilesLimit } from './observability/fd-limit.js';
import { HttpServer, OpsApi, createHttpSide, httpLimits, type HttpSide } from './http/index.js';
import { Metrics } from './observability/metrics.js';
import { planReload } from './config/reload-plan.js';
import { CloseCode, ResponseCode, ToT } from './protocol/index.js';
import { AclService } from './registry/acl-service.js';
import { FileAclStore, type AclWriter } from './registry/acl-store.js';
import { MemorySessionStore, type Session, type SessionStore } from './registry/session.js';
import { SessionManager } from './registry/session-manager.js';
import { TokenRegistry } from './registry/token-registry.js';
import { RequestTracker } from './routing/request-tracker.js';
import { Router } from './routing/router.js';
import { TelemetryIntake } from './routing/telemetry-intake.js';
import { TcpServer } from './servers/tcp-server.js';
import { UdpServer } from './servers/udp-server.js';
import type { Connection } from './session/connection.js';
import { SessionHost } from './session/session-host.js';
import { WebhookPort } from './webhooks/webhook-port.js';

export interface ConcentratorDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly store?: SessionStore;
  readonly metrics?: Metrics;
  /** Persists the ACL; default: the atomic file writer (tests inject a slow one). */
  readonly aclWriter?: AclWriter;
}

export interface BoundAddresses {
  tcp: AddressInfo;
  udp?: AddressInfo;
  http?: AddressInfo;
  admin?: AddressInfo;
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
  readonly webhooks: WebhookPort | undefined;
  /** The HTTP(S) API, when `http.enabled`. */
  readonly http?: HttpSide;
}

export interface ReloadResult {
  /** Config keys applied without dropping sessions (the ACL file is always re-read). */
  readonly applied: string[];
  /** Changed keys that only take effect after a restart. */
  readonly restartNeeded: string[];
  /** Listeners whose certificate could not be re-read ('tcp.tls', 'http.tls', 'admin.tls'): they keep the previous one. */
  readonly tlsFailed: string[];
  readonly aclReloaded: boolean;
}

export interface Concentrator {
  start(): Promise<BoundAddresses>;
  /** SIGHUP: re-reads the ACL file and TLS files; with `next`, applies its reloadable keys. Throws (changing nothing) on a bad ACL file. */
  reload(next?: Config): Promise<ReloadResult>;
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
  const metrics = deps.metrics ?? new Metrics({ defaultMetrics: true });
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
    takenOver: (s, from, to) => sessionEvent(s, 'taken-over', { from, to }),
    kept: (s, reason) => sessionEvent(s, 'kept', { reason }),
    ended: (s, reason) => sessionEvent(s, 'ended', { reason }),
    dropped: (uid, why, type) => {
      // Telemetry (a buffered datagram too large for the resuming central) counts with the other datagrams.
      if (type === ToT.TELEMETRY) return metrics.countTelemetry('dropped', why);
      metrics.dropped.labels(why).inc();
      log.warn({ event: 'dropped', uid, reason: why }, 'transmission dropped: no session, buffer full or too large for the peer');
    },
  }, deps.store ?? new MemorySessionStore());

  // Lifecycle lines (two or more per session) hold only a UID, kind, peer address, TLS flag and
  // reason, never key material: they skip redaction, which costs pino ~10 µs a line (bench/README.md).
  const lifecycleLog = log.child({}, { redact: [] });
  function sessionEvent(
    s: Session, event: 'started' | 'resumed' | 'taken-over' | 'kept' | 'ended', extra: { reason?: string; replayed?: number; from?: string; to?: string } = {},
  ): void {
    metrics.countSessionEvent(s.kind, event);
    lifecycleLog.info({ event: `session-${event}`, uid: s.uid, kind: s.kind, peer: s.peer, tls: s.tls, ...extra }, `session ${event}`);
    if (s.kind !== 'object') return;
    // Presence keeps its vocabulary: for the central a takeover is the session going on (resumed), with the reason.
    const presence = event === 'ended' && extra.reason === 'expired' ? 'expired' : event === 'taken-over' ? 'resumed' : event;
    webhooks?.presence(s.uid, presence, event === 'taken-over' ? 'taken-over' : extra.reason, new Date());
  }

  const acl = new AclService(new FileAclStore(config.acl.file, deps.aclWriter), Object.keys(config.groups), {
    revoked: (uid) => {
      tokens.revoke(uid);
      const s = sessions.get(uid);
      if (s) sessions.end(s, 'revoked', CloseCode.MAINTENANCE);
    },
  });

  const hooks = config.central.webhooks;
  const webhooks = hooks.request || hooks.telemetry || hooks.presence ? new WebhookPort(config.central, {
    clock, log, metrics, tracker,
    late: (uid, tracking) => {
      metrics.lateResponses.labels('up').inc();
      log.debug({ event: 'late-response', dir: 'up', uid, tracking, via: 'webhook' }, 'late webhook answer dropped');
    },
  }) : undefined;

  const router = new Router(sessions, tracker, {
    requestTimeoutMs: config.tcp.requestTimeoutSec * 1000,
    maxInFlightPerObject: config.limits.maxRequestsInFlightPerObject,
    maxInFlightPerTarget: config.limits.maxRequestsInFlightPerTarget,
    acl: () => acl.current,
    webhook: webhooks,
  }, {
    lateResponse: (dir, uid, tracking) => {
      metrics.lateResponses.labels(dir).inc();
      log.debug({ event: 'late-response', dir, uid, tracking }, 'late response dropped');
    },
    refused: (reason) => metrics.refusedRequests.labels(reason).inc(),
    telemetryDropped: (reason) => metrics.countTelemetry('dropped', reason),
  });

  let secureContext: SecureContext | undefined;
  const host = new SessionHost({
    config, clock, log, metrics, sessions, router, acl,
    secureContext: () => secureContext,
    onAuthenticated: (s, conn) => issueToken(s, conn),
    onRefused: (uid, reason) => webhooks?.presence(uid, 'refused', reason, new Date()),
  });

  /**
   * PROTOCOL §7: a token on every authentication of a telemetry group's object, renewed before
   * expiry. A full registry issues none (no live token is evicted): the object gets no ToT 5,
   * keeps the tokens it has, and is tried again a minute later while connected.
   */
  function issueToken(s: Session, conn: Connection): void {
    const group = config.groups[s.group];
    if (s.kind !== 'object' || !group?.telemetry) return;
    const lifetimeMs = group.telemetryTokenExpMin * 60_000;
    const issued = tokens.issue(s.uid, s.group, lifetimeMs);
    if (issued) conn.send({ type: ToT.TOKEN, token: issued.token });
    else {
      metrics.tokensRefused.inc();
      log.warn({ event: 'token-refused', uid: s.uid, tokens: tokens.size }, 'telemetry token registry full of live tokens: none issued');
    }
    clock.clearTimeout(s.tokenTimer);
    const nextMs = !issued ? TOKEN_RETRY_MS : lifetimeMs > 0 ? lifetimeMs * 0.8 : 0;
    s.tokenTimer = nextMs > 0
      ? clock.setTimeout(() => { if (s.link === conn && s.state === 'connected') issueToken(s, conn); }, nextMs)
      : undefined;
  }

  const ops = new OpsApi({
    authKey: config.central.authKey, sessions, acl: () => acl.current, metrics, clock, log: log.child({ component: 'admin' }),
    bans: host.admission, node: hostname(), console: config.adminConsole === true,
    ready: () => addresses !== undefined && closing === undefined && !destroyed,
  });
  // Health, metrics and admin share the public HTTP listener unless an admin listener is configured.
  const http = config.http.enabled
    ? createHttpSide(config, { router, acl, log: log.child({ component: 'http' }), ops: config.admin ? undefined : ops })
    : undefined;
  const adminServer = config.admin ? new HttpServer({ ...config.admin, limits: httpLimits(config) }, ops) : undefined;
  collectGauges(metrics, sessions, tracker, tokens);

  const tcpServer = new TcpServer((socket: Socket) => host.accept(socket));
  let current = config;
  let stopWatching: (() => void) | undefined;
  const udpServer = config.udp.enabled ? createUdpServer() : undefined;

  /** PROTOCOL §7: datagrams go through the intake; drops are counted and logged at debug, never answered. */
  function createUdpServer(): UdpServer {
    const intake = new TelemetryIntake(tokens, router, clock, {
      maxDatagramBytes: config.udp.maxDatagramBytes,
      maxPerSecPerToken: config.udp.maxDatagramsPerSecPerToken,
    }, {
      accepted: (_uid, via) => metrics.countTelemetry('accepted', via),
      dropped: (reason, peer, uid) => {
        metrics.countTelemetry('dropped', reason);
        // A flood of bad datagrams must not cost a log object each while debug is off.
        if (log.isLevelEnabled('debug')) log.debug({ event: 'telemetry-dropped', reason, peer: `${peer.address}:${peer.port}`, uid }, 'telemetry datagram dropped');
      },
    });
    return new UdpServer((msg, peer) => intake.receive(msg, peer), { recvBufferSize: config.udp.recvBufferBytes });
  }

  let addresses: BoundAddresses | undefined;
  let closing: Promise<void> | undefined;
  let destroyed = false;

  async function start(): Promise<BoundAddresses> {
    await mkdir(dirname(config.acl.file), { recursive: true });
    const fdLimit = openFilesLimit();
    const fds = descriptorsNeeded(config);
    const advice = fdLimitAdvice(fdLimit, fds);
    if (advice) log.warn({ event: 'fd-limit-low', limit: fdLimit, needed: fds, maxConnections: config.tcp.maxConnections }, advice);
    await acl.load();
    if (config.tcp.tls) secureContext = loadSecureContext(config.tcp.tls);
    await webhooks?.open();
    const tcp = await tcpServer.listen(config.tcp.host, config.tcp.port);
    const udp = await udpServer?.listen(config.udp.host, config.udp.port);
    addresses = udp ? { tcp, udp } : { tcp };
    if (http) {
      const a = (addresses.http = await http.server.listen());
      log.info({ event: 'listening-http', http: `${a.address}:${a.port}`, tls: Boolean(config.http.tls) }, 'HTTP API listening');
    }
    if (adminServer) {
      const a = (addresses.admin = await adminServer.listen());
      log.info({ event: 'listening-admin', admin: `${a.address}:${a.port}`, tls: Boolean(config.admin?.tls) }, 'admin API listening');
    }
    // Edits of the ACL file (by `iotsocket acl` or by hand) apply without a signal.
    stopWatching = acl.store.watch(() => void reloadAcl('watch'));
    log.info({
      event: 'listening', tcp: `${tcp.address}:${tcp.port}`, tls: Boolean(secureContext), acl: acl.current.size,
      udp: udp && `${udp.address}:${udp.port}`, udpRecvBuffer: udpServer?.recvBufferSize,
    }, 'concentrator started');
    return addresses;
  }

  async function reloadAcl(source: string): Promise<boolean> {
    try {
      const next = await acl.load();
      if (next) {
        metrics.aclUpdates.labels(source, 'applied').inc();
        log.info({ event: 'acl-reloaded', source, entries: next.size }, 'ACL file reloaded');
      }
      return next !== undefined;
    } catch (err) {
      metrics.aclUpdates.labels(source, 'rejected').inc();
      log.error({ event: 'acl-reload-failed', source, err: (err as Error).message }, 'ACL file not applied; the previous ACL stays');
      if (source !== 'watch') throw err;
      return false;
    }
  }

  async function reload(next: Config = current): Promise<ReloadResult> {
    // `config` is what was started: restart-only keys compare with it (reload-plan.ts).
    const plan = planReload(current, next, config);
    const aclReloaded = await reloadAcl('reload');
    // TLS files are re-read even when their paths did not change: that is how a renewed certificate is picked up.
    // A bad file on one listener is logged and reported; that listener keeps its certificate.
    const tlsFailed = [
      ...reloadTls('tcp', next.tcp.tls, (files) => { secureContext = loadSecureContext(files); }),
      // Whether a listener speaks TLS is fixed at start, whatever an earlier reload loaded.
      ...reloadTls('http', config.http.tls && next.http.tls, (files) => http?.server?.reloadTls(files)),
      ...reloadTls('admin', config.admin?.tls && next.admin?.tls, (files) => adminServer?.reloadTls(files)),
    ];
    if (next.log.level !== log.level) log.level = next.log.level;
    current = next;
    const result = { applied: plan.reload, restartNeeded: plan.restart, aclReloaded, tlsFailed };
    log.info({ event: 'reloaded', ...result }, plan.restart.length ? 'reloaded; some changes need a restart' : 'reloaded');
    return result;
  }

  /** Applies a listener's re-read certificate (TLS turned on or off needs a restart); [key] when it failed. */
  function reloadTls(name: 'tcp' | 'http' | 'admin', files: TlsFiles | undefined, apply: (files: TlsFiles) => void): string[] {
    if (!files) return [];
    try {
      apply(files);
      log.info({ event: 'tls-reloaded', listener: name, cert: files.cert }, `${name} certificate re-read`);
      return [];
    } catch (err) {
      log.error({ event: 'tls-reload-failed', listener: name, cert: files.cert, err: (err as Error).message }, `${name} certificate not reloaded; the previous one stays`);
      return [`${name}.tls`];
    }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      stopWatching?.();
      host.drain();
      http?.api.beginClose(); // 503 to new HTTP requests from now on
      const httpStopped = http?.server.close(SHUTDOWN_GRACE_MS);
      const stopped = tcpServer.close();
      const udpStopped = udpServer?.close();
      // Every pending request is answered before its origin's session gets Close 0x01.
      tracker.failAll(ResponseCode.NOT_FOUND, 'shutdown');
      sessions.endAll('shutdown', CloseCode.MAINTENANCE);
      tokens.clear();
      await webhooks?.close();
      await acl.flush();
      await host.whenEmpty(SHUTDOWN_GRACE_MS);
      host.destroyAll();
      await stopped;
      await udpStopped;
      await httpStopped;
      await adminServer?.close(SHUTDOWN_GRACE_MS);
      log.info({ event: 'stopped' }, 'concentrator stopped');
    })();
    return closing;
  }

  function destroy(): void {
    if (destroyed) return;
    destroyed = true;
    stopWatching?.();
    host.drain();
    void tcpServer.close();
    void udpServer?.close();
    void webhooks?.destroy();
    http?.server.destroy();
    adminServer?.destroy();
    host.destroyAll();
    tokens.clear();
  }

  return {
    start, reload, close, destroy,
    get addresses() { return addresses; },
    internals: { sessions, tracker, router, tokens, acl, metrics, host, webhooks, http },
  };
}

const SHUTDOWN_GRACE_MS = 2_000;
/** After a token was refused (full registry), the next try for that connected object. */
const TOKEN_RETRY_MS = 60_000;
/** Gauges read at scrape time: sessions by kind and state, buffered bytes, requests in flight, tokens. */
function collectGauges(metrics: Metrics, sessions: SessionManager, tracker: RequestTracker, tokens: TokenRegistry): void {
  metrics.sources = {
    sessions: () => sessions.store.values(),
    bufferedBytes: () => sessions.budget.used,
    inFlight: () => tracker.size,
    tokens: () => tokens.size,
  };
}
function loadSecureContext(files: { cert: string; key: string }): SecureContext {
  return createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' });
}
