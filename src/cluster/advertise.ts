import { WILDCARD_HOSTS } from '../config/cluster.js';
import type { Config } from '../config/types.js';
import type { Advertised } from './rebalance-policy.js';

/**
 * Where clients reach this node: `cluster.advertise`, else the TCP listener's host and bound
 * port. A listener bound to a wildcard has no address to hand out: undefined, and the node is
 * never a redirect target (it still redirects others).
 */
export function advertisedAddress(config: Config, boundPort: number): Advertised | undefined {
  if (config.cluster?.advertise) return config.cluster.advertise;
  if (WILDCARD_HOSTS.has(config.tcp.host)) return undefined;
  return { host: config.tcp.host, port: boundPort };
}
