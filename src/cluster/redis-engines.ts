import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { ClusterConfig } from '../config/types.js';
import { ErrorCode, IotsError } from '../errors.js';
import { blockingConnection, commandConnection } from '../redis/connect.js';
import { RedisKeys } from '../redis/keys.js';
import { RedisAclStore } from '../redis/redis-acl-store.js';
import { RedisNodeInbox, type RedisInboxOptions } from '../redis/redis-node-inbox.js';
import type { NodeInbox } from '../registry/node-inbox.js';
import { RedisNodeRegistryEngine } from '../redis/redis-node-registry.js';
import { RedisSessionBuffers } from '../redis/redis-session-buffers.js';
import { RedisSessionDirectory } from '../redis/redis-session-directory.js';
import { RedisTokenStore, type RedisTokenOptions } from '../redis/redis-token-store.js';
import { NodeRegistry, type NodeLeaseOptions } from '../registry/node-registry.js';
import { ConnectionWatch } from './connection-watch.js';
import type { ClusterEngines, EngineReachability } from './engines.js';
import { LinkNodeInbox } from './link-inbox.js';
import { clusterEndpoint } from './redis-endpoint.js';

export interface RedisEnginesDeps {
  /** The daemon's clock: heartbeats, lease lapses, token cache ages. (The start's bound is real time: the network's.) */
  readonly clock: Clock;
  readonly log: Logger;
  /** The token store's bounds; `max` should be the daemon's token bound (the single node's TokenRegistry max). */
  readonly tokens?: Partial<RedisTokenOptions>;
  readonly inbox?: Partial<RedisInboxOptions>;
  /** What the config does not set: the reap claim's time. */
  readonly lease?: Partial<Pick<NodeLeaseOptions, 'reapClaimMs'>>;
}

/** A start gives up after this long at least (three command timeouts when those are longer). */
export const OPEN_BOUND_MIN_MS = 3_000;

/**
 * The six ports on one Redis, for a node of a cluster, built without connecting (the daemon is
 * wired first, then started: `connect()`). Connections: commands (fail fast: no offline queue, a
 * command timeout), one subscriber shared by the ACL's and the tokens' notices (each filters its
 * channel), and with `inbox: redis` the stream inbox's blocking reads; by default node messages
 * go over direct links between nodes (link-inbox.ts), whose addresses and keys the registry holds. `connect()` rejects with a coded error
 * (ERR_IOTS_CLUSTER_REDIS) naming `cluster.redis` and the URL, password hidden, when Redis is
 * unreachable within max(3 s, 3 × commandTimeoutMs), and at once when it refuses the
 * credentials or its TLS certificate is not trusted; never hangs.
 * The inbox is not started and the registry not joined: the daemon does both, with its handler
 * and its announcement.
 */
export function createRedisEngines(cluster: ClusterConfig, deps: RedisEnginesDeps): ClusterEngines {
  const { endpoint, describe } = clusterEndpoint(cluster);
  const node = cluster.nodeId;
  const cmd = commandConnection(endpoint, `iotsocket:${node}:cmd`);
  const streams = cluster.inbox === 'redis';
  // Only the stream inbox reads blocking; direct links need no connection of their own.
  const blocking = streams ? blockingConnection(endpoint, `iotsocket:${node}:inbox`) : undefined;
  // Queued while away, not refused: a subscription asked for during an outage lands on reconnect.
  const subscriber = blockingConnection(endpoint, `iotsocket:${node}:sub`);
  const conns = blocking ? [cmd, blocking, subscriber] : [cmd, subscriber];
  const watch = new ConnectionWatch(conns);
  const boundMs = Math.max(OPEN_BOUND_MIN_MS, 3 * cluster.commandTimeoutMs);
  const log = deps.log.child({ cluster: describe, node });
  const keys = new RedisKeys(cluster.keyPrefix);
  const tokens = new RedisTokenStore(cmd, subscriber, keys, deps.tokens, () => deps.clock.now());
  const registry = new NodeRegistry(node, new RedisNodeRegistryEngine(cmd, keys), deps.clock, {
    ...deps.lease, heartbeatMs: cluster.heartbeatSec * 1000, leaseMs: cluster.leaseSec * 1000,
  });
  const inbox: NodeInbox = blocking
    ? new RedisNodeInbox(cmd, blocking, keys, node, deps.inbox)
    : new LinkNodeInbox(node, async (peer) => (await registry.live()).find((n) => n.node === peer)?.link, {
      ...(cluster.link ?? { host: '127.0.0.1', port: 0 }), connectTimeoutMs: Math.max(1_000, 2 * cluster.commandTimeoutMs),
    }, log);
  let closing: Promise<void> | undefined;
  const close = async () => {
    if (registry.state === 'live' || registry.state === 'lapsed') await registry.stop();
    watch.mute();
    await inbox.flush().catch(() => {}); // each lost batch was answered through its `lost`
    await inbox.close();
    await tokens.close();
    await disconnectAll(conns);
  };
  const connect = async () => {
    // Real time even under a test's manual clock: ioredis retries by real timers, and a start must never wait for a clock nobody advances.
    const failure = await watch.open(systemClock, boundMs);
    if (failure) {
      watch.mute();
      await disconnectAll(conns);
      const why = {
        refused: `${describe} refused the credentials (${failure.reason}): check cluster.passwordFile or the URL's user and password`,
        untrusted: `the certificate of ${describe} is not trusted (${failure.reason}): set cluster.tls.ca to the CA that signed it`,
        timeout: `cannot reach ${describe} within ${boundMs} ms (${failure.reason})`,
      }[failure.kind];
      throw new IotsError(ErrorCode.CLUSTER_REDIS, `cluster.redis: ${why}`);
    }
    watch.on((r) => {
      if (r === 'reachable') log.info({ event: 'cluster-redis-reachable' }, `Redis at ${describe} is reachable again`);
      else log.warn({ event: 'cluster-redis-unreachable', reason: watch.lastError?.message }, `Redis at ${describe} is unreachable: refusing what needs it until it returns`);
    });
  };
  return {
    node,
    directory: new RedisSessionDirectory(cmd, keys, node),
    buffers: new RedisSessionBuffers(cmd, keys),
    inbox,
    acl: new RedisAclStore(cmd, subscriber, keys),
    tokens,
    registry,
    get reachability(): EngineReachability {
      return watch.state;
    },
    onReachability: (fn) => watch.on(fn),
    describe,
    connect,
    close: () => (closing ??= close()),
  };
}

/** createRedisEngines, connected. */
export async function openRedisEngines(cluster: ClusterConfig, deps: RedisEnginesDeps): Promise<ClusterEngines> {
  const engines = createRedisEngines(cluster, deps);
  await engines.connect();
  return engines;
}

/** Disconnects each connection and waits until its socket is closed: nothing is left open. */
async function disconnectAll(conns: readonly Redis[]): Promise<void> {
  await Promise.all(conns.map(async (c) => {
    if (c.status === 'end') return;
    // Cut during a TLS handshake, the socket still reports the server's alert after ioredis let
    // go of it: an uncaught 'error' would take the process down.
    c.stream?.on('error', () => {});
    c.disconnect();
    // Between two reconnect attempts there is no socket: disconnect() only cancels the next
    // attempt, and ioredis says no 'end'. ('end' is emitted on a later tick: listening now is in time.)
    const after: string = c.status; // read again: disconnect() changed it
    if (after === 'reconnecting' || after === 'end') return;
    await new Promise<void>((resolve) => {
      // A server that stopped reading never closes its side: after a while, cut ours.
      const timer = setTimeout(() => { c.stream?.destroy(); resolve(); }, 1_000);
      timer.unref();
      c.once('end', () => { clearTimeout(timer); resolve(); });
    });
  }));
}
