import { readFileSync } from 'node:fs';
import { hideRedisPassword } from '../config/cluster.js';
import type { ClusterConfig } from '../config/types.js';
import { ErrorCode, IotsError } from '../errors.js';
import type { RedisEndpoint } from '../redis/connect.js';

/**
 * The Redis endpoint of a `cluster` config: credentials taken out of the URL (ioredis would
 * prefer the URL's over a password from `passwordFile`) and passed as options, with the CA
 * of `tls.ca` read for a rediss:// URL. `describe` is the URL with its password hidden.
 */
export function clusterEndpoint(c: ClusterConfig): { endpoint: RedisEndpoint; describe: string } {
  const describe = hideRedisPassword(c.redis);
  const u = new URL(c.redis);
  const username = decodeURIComponent(u.username) || undefined;
  const password = c.password ?? (decodeURIComponent(u.password) || undefined);
  u.username = '';
  u.password = '';
  let tls: { ca?: Buffer } | undefined;
  if (u.protocol === 'rediss:') {
    tls = {};
    if (c.tls?.ca !== undefined) {
      try {
        tls.ca = readFileSync(c.tls.ca);
      } catch (err) {
        throw new IotsError(ErrorCode.CLUSTER_REDIS, `cluster.tls.ca: cannot read ${c.tls.ca}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls } : {}) };
  return { endpoint: { url: u.toString(), commandTimeoutMs: c.commandTimeoutMs, auth }, describe };
}
