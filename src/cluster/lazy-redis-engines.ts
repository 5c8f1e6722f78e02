import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ClusterConfig } from '../config/types.js';
import { blockingConnection, commandConnection } from '../redis/connect.js';
import { RedisKeys } from '../redis/keys.js';
import { RedisAclStore } from '../redis/redis-acl-store.js';
import { RedisNodeInbox } from '../redis/redis-node-inbox.js';
import { RedisNodeRegistryEngine } from '../redis/redis-node-registry.js';
import { RedisSessionBuffers } from '../redis/redis-session-buffers.js';
import { RedisSessionDirectory } from '../redis/redis-session-directory.js';
import { RedisTokenStore } from '../redis/redis-token-store.js';
import { NodeRegistry } from '../registry/node-registry.js';
import type { ClusterEngines, EngineReachability } from './engines.js';

/** The URL with its password hidden: what logs and errors show. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * The Redis engines of one node, built without connecting (the daemon is wired first, then
 * started): one fail-fast command connection shared by the ports, a blocking one for the
 * inbox, and subscribers for the ACL and token notices.
 */
export function createRedisEngines(cluster: ClusterConfig, deps: { clock: Clock; log: Logger }): ClusterEngines {
  const endpoint = {
    url: cluster.redis, commandTimeoutMs: cluster.commandTimeoutMs,
    ...(cluster.password !== undefined && { password: cluster.password }),
    ...(cluster.tls?.ca !== undefined && { ca: readFileSync(cluster.tls.ca) }),
  };
  const node = cluster.nodeId;
  const conns: Redis[] = [];
  const open = (make: () => Redis): Redis => {
    const c = make();
    c.on('error', () => {}); // reconnects by itself; reachability tells the rest
    conns.push(c);
    return c;
  };
  const cmd = open(() => commandConnection(endpoint, `iots:${node}:cmd`));
  const blocking = open(() => blockingConnection(endpoint, `iots:${node}:inbox`));
  const aclSub = open(() => blockingConnection(endpoint, `iots:${node}:acl`));
  const tokenSub = open(() => blockingConnection(endpoint, `iots:${node}:tokens`));
  const keys = new RedisKeys(cluster.keyPrefix);
  const registry = new NodeRegistry(node, new RedisNodeRegistryEngine(cmd, keys), deps.clock, {
    heartbeatMs: cluster.heartbeatSec * 1000, leaseMs: cluster.leaseSec * 1000,
  });
  const tokens = new RedisTokenStore(cmd, tokenSub, keys, {}, () => deps.clock.now());
  const inbox = new RedisNodeInbox(cmd, blocking, keys, node);
  const listeners = new Set<(r: EngineReachability) => void>();
  let reachability: EngineReachability = 'unreachable';
  const update = () => {
    const next: EngineReachability = cmd.status === 'ready' ? 'reachable' : 'unreachable';
    if (next === reachability) return;
    reachability = next;
    for (const fn of listeners) fn(next);
  };
  cmd.on('ready', update);
  cmd.on('close', update);
  cmd.on('end', update);
  let closed = false;
  const describe = redactRedisUrl(cluster.redis);

  return {
    node, registry, tokens, inbox, describe,
    directory: new RedisSessionDirectory(cmd, keys, node),
    buffers: new RedisSessionBuffers(cmd, keys),
    acl: new RedisAclStore(cmd, aclSub, keys),
    get reachability() { return reachability; },
    onReachability(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async connect() {
      const boundMs = Math.max(3_000, cluster.commandTimeoutMs * 3);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cluster.redis: ${describe} did not answer within ${boundMs} ms`)), boundMs);
      });
      try {
        await Promise.race([cmd.connect().then(() => cmd.ping()), timeout]);
      } catch (err) {
        const why = (err as Error).message;
        throw new Error(why.startsWith('cluster.redis') ? why : `cluster.redis: cannot use ${describe}: ${why}`);
      } finally {
        clearTimeout(timer);
      }
      update();
    },
    async close() {
      if (closed) return;
      closed = true;
      await inbox.close().catch(() => {});
      await tokens.close().catch(() => {});
      for (const c of conns) c.disconnect();
    },
  };
}
