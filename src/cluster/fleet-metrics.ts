import type { Metrics } from '../observability/metrics.js';
import type { Fleet } from './fleet.js';

/**
 * What a cluster node's metrics read: liveness and waits (iotsocket_cluster_up, _remote_requests),
 * the nodes and their load as the last heartbeat listed them, this node's inbox (read at scrape
 * time, when the engine can tell), and the Redis round trip timed by each heartbeat.
 */
export function reportFleet(metrics: Metrics, fleet: Fleet): void {
  const engines = fleet.engines;
  metrics.clusterSources = { up: () => fleet.live, remoteWaits: () => fleet.pendingRemote.waits };
  const inbox = engines.inbox;
  metrics.cluster.sources = {
    liveNodes: () => fleet.liveNodes,
    ...(inbox.stats && { inbox: () => inbox.stats!() }),
  };
  engines.registry.onRoundTrip((ms) => metrics.cluster.redisRoundTrip.observe(ms / 1000));
}
