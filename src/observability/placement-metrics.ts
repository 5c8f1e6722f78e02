import { Counter, Gauge, type Registry } from './prom.js';

/**
 * Drain and rebalance metrics (issue 12; the drains themselves are counted by ClusterMetrics). Registered on every daemon, so a dashboard sees 0
 * rather than a missing series on a node that never drained; `draining` reads the node's drain.
 */
export class PlacementMetrics {
  readonly drainedSessions: Counter;
  readonly redirects: Counter<'reason'>;
  /** Set by the cluster wiring: whether this node drains now. */
  draining: () => boolean = () => false;

  constructor(registry: Registry) {
    const registers = [registry];
    this.drainedSessions = new Counter({ name: 'iotsocket_cluster_drained_sessions_total', help: 'Sessions a drain handed off (Close 0x01, kept for their devices to resume elsewhere)', registers });
    this.redirects = new Counter({
      name: 'iotsocket_cluster_redirects_total', labelNames: ['reason'] as const, registers,
      help: 'New clients sent to another node (PROTOCOL §3 redirect rule) or refused, by reason: draining, rebalance, draining-no-target',
    });
    const gauge: Gauge = new Gauge({ name: 'iotsocket_cluster_draining', help: '1 while this node is draining', registers, collect: (): void => gauge.set(this.draining() ? 1 : 0) });
  }
}
