import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/types.js';
import { createLogger } from './observability/logger.js';
import { descriptorsNeeded, fdLimitAdvice, openFilesLimit } from './observability/fd-limit.js';
import { HttpServer, OpsApi, createHttpSide, httpLimits, type HttpSide } from './http/index.js';
import { Metrics } from './observability/metrics.js';
import { planReload } from './config/reload-plan.js';
import { CloseCode, ResponseCode } from './protocol/index.js';
import { AclService } from './registry/acl-service.js';
import { FileAclStore, type AclWriter } from './registry/acl-store.js';
import { MemorySessionStore, type SessionStore } from './registry/session.js';
import { SessionManager } from './registry/session-manager.js';
import { TokenRegistry } from './registry/token-registry.js';
import { MemoryTokenStore, type TokenStore } from './registry/token-store.js';
import { RequestTracker } from './routing/request-tracker.js';
import { Router } from './routing/router.js';
import { TcpServer } from './servers/tcp-server.js';
import { revokeUid } from './session/revocation.js';
import { SessionHost } from './session/session-host.js';
import { sessionEventsReporter, type PresenceSink } from './session/session-events.js';
import { TokenIssuer } from './session/token-issuer.js';
import { aclReloader } from './daemon/acl-reloader.js';
import { loadSecureContext, reloadTls } from './daemon/tls-contexts.js';
import { createUdpSide } from './daemon/udp-side.js';
import { WebhookPort } from './webhooks/webhook-port.js';
import type { ClusterEngines } from './cluster/engines.js';
import { Fleet } from './cluster/fleet.js';
import { reportFleet } from './cluster/fleet-metrics.js';
import type { ProtocolRange } from './registry/node-protocol.js';
import { createRedisEngines } from './cluster/redis-engines.js';
import { seedSharedAcl } from './cluster/acl-seed.js';
import { ClusterPlacement } from './cluster/placement.js';
import { advertisedAddress } from './cluster/advertise.js';
import { PlacementMetrics } from './observability/placement-metrics.js';

export interface ConcentratorDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly store?: SessionStore;
  readonly metrics?: Metrics;
  /** Persists the ACL; default: the atomic file writer (tests inject a slow one). */
  readonly aclWriter?: AclWriter;
  /** A cluster's shared engines; default: Redis from `config.cluster` (none without it). */
  readonly engines?: ClusterEngines;
  /** Telemetry tokens; default: the cluster's shared store, else in memory, dying with this node. */
  readonly tokenStore?: TokenStore;
  /** Tests only: the node-protocol versions a cluster node announces, as a node of another release would. */
  readonly nodeProtocols?: ProtocolRange;
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
  readonly tokens: TokenStore;
  readonly acl: AclService;
  readonly metrics: Metrics;
  readonly host: SessionHost;
  readonly webhooks: WebhookPort | undefined;
  /** This node's part of a cluster, when `cluster` is configured. */
  readonly fleet: Fleet | undefined;
  /** The HTTP(S) API, when `http.enabled`. */
  readonly http?: HttpSide;
  /** Drain and rebalance, when `cluster` is configured. */
  readonly placement?: ClusterPlacement;
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
  /** Immediate: drop every socket. Idempotent. A cluster node leaves as after a crash (its lease lapses; a survivor reaps it). */
  destroy(): void;
  readonly addresses: BoundAddresses | undefined;
  readonly internals: ConcentratorInternals;
}

/** Wires the modules together; importing this file does nothing. */
export function createConcentrator(config: Config, deps: ConcentratorDeps = {}): Concentrator {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger ?? createLogger({ level: config.log.level });
  const metrics = deps.metrics ?? new Metrics({ defaultMetrics: true });
  // A cluster: the fleet's state in the shared engine (Redis), this node's in memory; without one, no Redis at all.
  const tokenBound = Math.max(10_000, config.tcp.maxConnections * 3);
  const engines = deps.engines ?? (config.cluster ? createRedisEngines(config.cluster, { clock, log, tokens: { max: tokenBound } }) : undefined);
  // The memory registry is kept at hand: its tokens die with this node (cleared at close), and the gauge reads it exactly.
  const sharedTokens = deps.tokenStore ?? engines?.tokens;
  const tokenRegistry = sharedTokens ? undefined : new TokenRegistry(clock, tokenBound);
  const tokens = sharedTokens ?? new MemoryTokenStore(tokenRegistry!);

  const tracker = new RequestTracker(clock, {
    settled: (p, code, generated, now) => {
      metrics.countRequest(p.dir, code);
      if (!generated) metrics.requestDuration.observe(p.dir, (now - p.startedAt) / 1000);
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
  const presence: PresenceSink | undefined = webhooks && ((uid, event, reason, at) => webhooks.presence(uid, event, reason, at));

  const sessions = new SessionManager(clock, { keepSessionMs: config.keepSessionSec * 1000, buffers: config.buffers },
    sessionEventsReporter(metrics, log, presence), deps.store ?? new MemorySessionStore());
  const fleet = engines && new Fleet(engines, {
    clock, log: log.child({ component: 'cluster', node: engines.node }), sessions, tracker,
    counters: {
      refused: (reason) => metrics.refusedRequests.labels(reason).inc(),
      lateResponse: (dir) => metrics.lateResponses.labels(dir).inc(),
      messageCount: (kind, way) => metrics.clusterMessageCount(kind, way),
      takeover: (way) => metrics.cluster.countTakeover(way),
      expired: (kind) => metrics.cluster.countExpired(kind),
    },
  }, {
    keepSessionMs: config.keepSessionSec * 1000, buffers: config.buffers, backstopGraceMs: BACKSTOP_GRACE_MS,
    forwardTtlMs: Math.max(config.tcp.requestTimeoutSec, config.http.maxWaitSec) * 1000 + 10_000,
    heartbeatMs: (config.cluster?.heartbeatSec ?? 3) * 1000,
    leaseMs: (config.cluster?.leaseSec ?? 7) * 1000,
    ...(deps.nodeProtocols && { protocols: deps.nodeProtocols }),
  });
  const placementMetrics = new PlacementMetrics(metrics.registry);
  // Drain and rebalance: where new clients go, from the peers' loads announced with their heartbeats.
  const placement = fleet && engines && new ClusterPlacement({
    node: engines.node, clock, log: log.child({ component: 'cluster', node: engines.node }), sessions, registry: engines.registry, metrics: placementMetrics,
    inFlight: () => tracker.size + fleet.pendingRemote.waits,
    handedOff: (uid) => fleet.forgetRouteHere(uid),
    countDrain: () => metrics.cluster.countDrain(),
  }, {
    heartbeatMs: (config.cluster?.heartbeatSec ?? 3) * 1000,
    drainRate: config.cluster?.drainRate ?? 500,
    rebalance: config.cluster?.rebalance ?? { enabled: false, threshold: 1.1, floor: 100 },
  });
  if (fleet) {
    sessions.share(fleet);
    reportFleet(metrics, fleet);
  }
  const revoke = revokeUid(tokens, sessions, log);
  const acl = new AclService(engines?.acl ?? new FileAclStore(config.acl.file, deps.aclWriter), Object.keys(config.groups), {
    revoked: (uid) => {
      revoke(uid);
      fleet?.revoke(uid);
    },
  });

  const router = new Router(sessions, tracker, {
    requestTimeoutMs: config.tcp.requestTimeoutSec * 1000,
    maxInFlightPerObject: config.limits.maxRequestsInFlightPerObject,
    maxInFlightPerTarget: config.limits.maxRequestsInFlightPerTarget,
    acl: () => acl.current,
    webhook: webhooks,
    ...(fleet && { remote: fleet }),
  }, {
    lateResponse: (dir, uid, tracking) => {
      metrics.lateResponses.labels(dir).inc();
      log.debug({ event: 'late-response', dir, uid, tracking }, 'late response dropped');
    },
    refused: (reason) => metrics.refusedRequests.labels(reason).inc(),
    telemetryDropped: (reason) => metrics.countTelemetry('dropped', reason),
  });
  fleet?.bindRouter(router);

  const issuer = new TokenIssuer(tokens, clock, { groups: config.groups }, {
    refused: (uid, held) => {
      metrics.tokensRefused.inc();
      log.warn({ event: 'token-refused', uid, tokens: held }, 'telemetry token registry full of live tokens: none issued');
    },
    unavailable: (uid, err) => {
      log.warn({ event: 'token-store-unavailable', uid, err: err instanceof Error ? err.message : String(err) }, 'telemetry token store away: no token issued, retried within seconds (logged once until it answers again)');
    },
    reissued: (count) => {
      log.warn({ event: 'tokens-reissued', count }, `the token store came back without the current token of ${count} connected objects (lost in a restart?): each got a new one`);
    },
  });
  // Once the store answers again: what it lost is issued anew, what failed meanwhile is tried now.
  (tokens as TokenStore).onBack?.(() => void issuer.verify(sessions.store.values()));
  let secureContext: SecureContext | undefined;
  const host = new SessionHost({
    config, clock, log, metrics, sessions, router, acl,
    secureContext: () => secureContext,
    onAuthenticated: (s, conn) => issuer.issue(s, conn),
    onRefused: (uid, reason) => presence?.(uid, 'refused', reason, new Date()),
    // A node that cannot reach the fleet's engine refuses new sessions rather than claim them blind.
    ...(fleet && { unavailable: () => !fleet.live }),
    ...(placement && { placement: placement.place }),
  });

  const ops = new OpsApi({
    authKey: config.central.authKey, sessions, acl: () => acl.current, metrics, clock, log: log.child({ component: 'admin' }),
    bans: host.admission, node: engines?.node ?? hostname(), console: config.adminConsole === true,
    ...(fleet && engines && {
      fleet: {
        list: (after: string | undefined, count: number) => engines.directory.list(after, count),
        lookup: (uid: string) => engines.directory.lookup(uid),
        buffered: async (uid: string) => (await engines.buffers.stats(uid)).count,
        end: (uid: string) => fleet.endAnywhere(uid),
      },
    }),
    ...(placement && { drain: placement.drain }),
    // A draining node is not ready: a load balancer stops sending it clients.
    ready: () => addresses !== undefined && closing === undefined && !destroyed && (fleet === undefined || fleet.live) && !placement?.drain.draining,
  });
  // Health, metrics and admin share the public HTTP listener unless an admin listener is configured.
  const http = config.http.enabled
    ? createHttpSide(config, { router, acl, log: log.child({ component: 'http' }), ops: config.admin ? undefined : ops })
    : undefined;
  const adminServer = config.admin ? new HttpServer({ ...config.admin, limits: httpLimits(config) }, ops) : undefined;
  collectGauges(metrics, sessions, tracker, tokenRegistry ? () => tokenRegistry.size : cachedSize(tokens));

  const tcpServer = new TcpServer((socket: Socket) => host.accept(socket));
  let current = config;
  let stopWatching: (() => void) | undefined;
  const udpServer = config.udp.enabled ? createUdpSide(config, { tokens, router, clock, metrics, log }) : undefined;
  const reloadAcl = aclReloader(acl, metrics, log);

  let addresses: BoundAddresses | undefined;
  let closing: Promise<void> | undefined;
  let destroyed = false;

  async function start(): Promise<BoundAddresses> {
    await mkdir(dirname(config.acl.file), { recursive: true });
    const fdLimit = openFilesLimit();
    const fds = descriptorsNeeded(config);
    const advice = fdLimitAdvice(fdLimit, fds);
    if (advice) log.warn({ event: 'fd-limit-low', limit: fdLimit, needed: fds, maxConnections: config.tcp.maxConnections }, advice);
    if (engines) {
      await engines.connect();
      log.info({ event: 'cluster-engine', redis: engines.describe, node: engines.node }, 'cluster engine reached');
      await fleet?.ensureIdFree();
      await fleet?.ensureCompatible();
      await seedSharedAcl(engines.acl, config.acl.file, log);
    }
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
    const advertise = advertisedAddress(config, tcp.port);
    await fleet?.start(advertise ? `${advertise.host}:${advertise.port}` : `${config.tcp.host}:${tcp.port}`, advertise);
    await placement?.start();
    // Edits of the ACL file (by `iotsocket acl` or by hand) apply without a signal; a cluster's ACL is watched in Redis.
    stopWatching = acl.store.watch(() => void reloadAcl('watch'));
    log.info({
      event: 'listening', tcp: `${tcp.address}:${tcp.port}`, tls: Boolean(secureContext), acl: acl.current.size,
      udp: udp && `${udp.address}:${udp.port}`, udpRecvBuffer: udpServer?.recvBufferSize,
    }, 'concentrator started');
    return addresses;
  }

  async function reload(next: Config = current): Promise<ReloadResult> {
    // `config` is what was started: restart-only keys compare with it (reload-plan.ts).
    const plan = planReload(current, next, config);
    const aclReloaded = await reloadAcl('reload');
    // TLS files are re-read even when their paths did not change: that is how a renewed certificate is picked up.
    // A bad file on one listener is logged and reported; that listener keeps its certificate.
    const tlsFailed = [
      ...reloadTls(log, 'tcp', next.tcp.tls, (files) => { secureContext = loadSecureContext(files); }),
      // Whether a listener speaks TLS is fixed at start, whatever an earlier reload loaded.
      ...reloadTls(log, 'http', config.http.tls && next.http.tls, (files) => http?.server?.reloadTls(files)),
      ...reloadTls(log, 'admin', config.admin?.tls && next.admin?.tls, (files) => adminServer?.reloadTls(files)),
    ];
    if (next.log.level !== log.level) log.level = next.log.level;
    current = next;
    const result = { applied: plan.reload, restartNeeded: plan.restart, aclReloaded, tlsFailed };
    log.info({ event: 'reloaded', ...result }, plan.restart.length ? 'reloaded; some changes need a restart' : 'reloaded');
    return result;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      stopWatching?.();
      placement?.stop();
      host.drain();
      http?.api.beginClose(); // 503 to new HTTP requests from now on
      const httpStopped = http?.server.close(SHUTDOWN_GRACE_MS);
      const stopped = tcpServer.close();
      const udpStopped = udpServer?.close();
      // Every pending request is answered before its origin's session gets Close 0x01.
      tracker.failAll(ResponseCode.NOT_FOUND, 'shutdown');
      sessions.endAll('shutdown', CloseCode.MAINTENANCE);
      tokenRegistry?.clear();
      await within(tokens.close(), SHUTDOWN_GRACE_MS); // a shared store whose Redis is away must not hold up the stop
      await webhooks?.close();
      await acl.flush();
      await fleet?.stop();
      await engines?.close();
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
    placement?.stop();
    host.drain();
    void tcpServer.close();
    void udpServer?.close();
    void webhooks?.destroy();
    http?.server.destroy();
    adminServer?.destroy();
    host.destroyAll();
    tokenRegistry?.clear();
    void tokens.close().catch(() => {});
    // A cluster node leaves as if it crashed: its lease lapses and a survivor reaps it.
    fleet?.abandon();
    void engines?.close();
  }

  return {
    start, reload, close, destroy,
    get addresses() { return addresses; },
    internals: { sessions, tracker, router, tokens, acl, metrics, host, webhooks, fleet, http, placement },
  };
}

const SHUTDOWN_GRACE_MS = 2_000;
/**
 * A request sent to another node's tracker is answered here this long after its timeout if that
 * node never answers (it died, or its answer was lost with Redis): by the timeout, as on one node.
 */
const BACKSTOP_GRACE_MS = 0;
/** Gauges read at scrape time: sessions by kind and state, buffered bytes, requests in flight, tokens. */
function collectGauges(metrics: Metrics, sessions: SessionManager, tracker: RequestTracker, tokens: () => number): void {
  metrics.sources = {
    sessions: () => sessions.store.values(),
    bufferedBytes: () => sessions.budget.used,
    inFlight: () => tracker.size,
    tokens,
  };
}

/**
 * A shared store's size is a round trip and a scrape reads gauges synchronously: each read
 * answers the last figure fetched and fetches the next (a scrape shows the previous one's
 * figure; a failed fetch keeps the last).
 */
function cachedSize(store: TokenStore): () => number {
  let last = 0;
  let fetching = false;
  return () => {
    if (!fetching) {
      fetching = true;
      store.size.then((n) => { last = n; }, () => {}).finally(() => { fetching = false; });
    }
    return last;
  };
}

/** Waits for `p` (its failure ignored) at most `ms`. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(resolve, ms);
    p.catch(() => {}).finally(() => {
      clearTimeout(deadline);
      resolve();
    });
  });
}
