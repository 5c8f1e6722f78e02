import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileProblem, readableByOthers } from './file-problem.js';
import type { RawCluster } from './schema.js';
import type { ClusterConfig } from './types.js';

/**
 * The `cluster` key: rules the schema cannot say (the URL's scheme, a lease longer than the
 * heartbeat, the key prefix), the default node id, and the password file. Nothing here contacts
 * Redis: `check-config` runs all of it.
 */

/** A node id goes into Redis keys and claims (`node.incarnation.seq`): no separator, no hash tag. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

type Issue = (path: string, message: string) => void;

/** Bind-to-all addresses: fine to listen on, never an address to send a client to. */
export const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]', '::0', '*']);

/** The URL for logs and messages: its password, if any, replaced by `***`. */
export function hideRedisPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    // Not a URL at all: still never echo what may be credentials (all before the last '@').
    const at = url.lastIndexOf('@');
    if (at < 0) return url;
    return `${/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0] ?? ''}***${url.slice(at)}`;
  }
}

/** `hostname-pid`, reduced to what a node id may hold (64 characters, the pid kept whole). */
export function defaultNodeId(host: string = hostname(), pid: number = process.pid): string {
  const tail = `-${pid}`;
  const head = host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64 - tail.length) || 'node';
  return head + tail;
}

/** Checks that read no file; run before paths are resolved, so each issue can name its source. */
export function checkCluster(c: Partial<RawCluster>, issue: Issue): void {
  let tlsScheme = false;
  if (typeof c.redis === 'string') {
    const why = redisUrlProblem(c.redis);
    if (why) issue('cluster.redis', `${why}, not ${hideRedisPassword(c.redis)}`);
    tlsScheme = c.redis.startsWith('rediss://');
  }
  if (typeof c.nodeId === 'string' && !NODE_ID_PATTERN.test(c.nodeId)) {
    issue('cluster.nodeId', 'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" or "-" (it goes into Redis keys and claims)');
  }
  if (typeof c.keyPrefix === 'string' && /[{}]/.test(c.keyPrefix)) {
    issue('cluster.keyPrefix', 'must not hold "{" or "}": the keys carry their own hash tags (Redis Cluster slots)');
  }
  if (typeof c.heartbeatSec === 'number' && typeof c.leaseSec === 'number' && c.leaseSec <= c.heartbeatSec) {
    issue('cluster.leaseSec', `must be greater than cluster.heartbeatSec (${c.heartbeatSec}): a node renews its lease every heartbeat, so a shorter lease lapses between two`);
  }
  if (c.link?.advertise === undefined && typeof c.link?.host === 'string' && (c.inbox ?? 'direct') === 'direct' && WILDCARD_HOSTS.has(c.link.host)) {
    issue('cluster.link.advertise', `is needed when cluster.link.host is ${c.link.host}: other nodes must be told a host they can dial`);
  }
  if (typeof c.advertise?.host === 'string' && WILDCARD_HOSTS.has(c.advertise.host)) {
    issue('cluster.advertise.host', `must be an address clients can connect to, not the wildcard ${c.advertise.host} (it is sent to them in redirects)`);
  }
  if (c.tls?.ca !== undefined && typeof c.redis === 'string' && !tlsScheme) {
    issue('cluster.tls.ca', 'needs a rediss:// URL in cluster.redis: a redis:// connection does not use TLS');
  }
}

function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be a redis:// or rediss:// URL (redis://[user:password@]host[:port][/db])';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return 'must be a redis:// or rediss:// URL';
  if (u.hostname === '') return 'must name a host (redis://host:6379)';
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) return 'may only have a database number as its path (redis://host:6379/0)';
  return undefined;
}

/** The ClusterConfig, reading the password file; issues for files that cannot be read. */
export function finishCluster(c: RawCluster, issue: Issue, warnings: string[]): ClusterConfig | undefined {
  let failed = false;
  const counted: Issue = (p, m) => { failed = true; issue(p, m); };
  let password: string | undefined;
  if (c.passwordFile !== undefined) password = readPassword(c, counted, warnings);
  if (c.tls?.ca !== undefined) {
    const problem = fileProblem(c.tls.ca);
    if (problem) counted('cluster.tls.ca', problem);
  }
  if (failed) return undefined;
  return {
    redis: c.redis,
    nodeId: c.nodeId ?? defaultNodeId(),
    keyPrefix: c.keyPrefix,
    commandTimeoutMs: c.commandTimeoutMs,
    heartbeatSec: c.heartbeatSec,
    leaseSec: c.leaseSec,
    drainRate: c.drainRate,
    rebalance: { ...c.rebalance },
    ...(c.advertise !== undefined ? { advertise: { host: c.advertise.host, port: c.advertise.port } } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(c.tls?.ca !== undefined ? { tls: { ca: c.tls.ca } } : {}),
    inbox: c.inbox,
    link: { host: c.link.host, port: c.link.port, ...(c.link.advertise !== undefined ? { advertise: c.link.advertise } : {}) },
  };
}

function readPassword(c: RawCluster, issue: Issue, warnings: string[]): string | undefined {
  const file = c.passwordFile!;
  const problem = fileProblem(file);
  if (problem) return void issue('cluster.passwordFile', problem);
  const password = readFileSync(file, 'utf8').trim();
  if (password === '') return void issue('cluster.passwordFile', `${file} is empty`);
  if (readableByOthers(file)) warnings.push(`cluster.passwordFile: ${file} is readable by other users; chmod 600 it`);
  if (hideRedisPassword(c.redis) !== c.redis) warnings.push('cluster.redis: its password is replaced by the one in cluster.passwordFile');
  return password;
}
