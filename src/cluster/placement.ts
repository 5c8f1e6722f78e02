import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { SessionManager } from '../registry/session-manager.js';
import type { PlacementMetrics } from '../observability/placement-metrics.js';
import { Drain } from './drain.js';
import { PeerLoads } from './peer-loads.js';
import { place, type PeerLoad, type RebalanceSettings } from './rebalance-policy.js';

export interface PlacementDeps {
  readonly node: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly sessions: SessionManager;
  readonly registry: NodeRegistry;
  /** Requests tracked here or waiting here for another node (a drain is done when none is left). */
  inFlight(): number;
  /** A drain handed `uid` off: the other nodes forget their route to it here. */
  handedOff(uid: string): void;
  readonly metrics: PlacementMetrics;
  /** A drain started: iotsocket_cluster_drains_total (the cluster metrics own it). */
  countDrain(): void;
}

export interface PlacementOptions {
  readonly heartbeatMs: number;
  readonly drainRate: number;
  readonly rebalance: RebalanceSettings;
}

/** A new client's placement, in SessionHost's terms. */
export type PlacementAnswer = { readonly redirect?: { readonly host: string; readonly port: number }; readonly reason: 'draining' | 'rebalanced' } | undefined;

/**
 * A cluster node's drain and rebalance (issue 12): the peers' loads, read per heartbeat; the
 * drain; and the decision for each new client, by the pure policy in rebalance-policy.ts.
 */
export class ClusterPlacement {
  readonly drain: Drain;
  readonly #d: PlacementDeps;
  readonly #o: PlacementOptions;
  readonly #peers: PeerLoads;
  readonly #metrics: PlacementMetrics;

  constructor(deps: PlacementDeps, opts: PlacementOptions) {
    this.#d = deps;
    this.#o = opts;
    this.#peers = new PeerLoads(deps.registry, deps, opts.heartbeatMs);
    const m = (this.#metrics = deps.metrics);
    this.drain = new Drain({
      clock: deps.clock, log: deps.log, sessions: deps.sessions, inFlight: deps.inFlight, handedOff: deps.handedOff, settleMs: opts.heartbeatMs,
      announce: async (draining) => {
        await deps.registry.setDraining(draining);
        await this.#peers.refresh(); // a drain picks its targets from a fresh view
      },
      counters: { started: () => deps.countDrain(), moved: () => m.drainedSessions.inc() },
    }, opts.drainRate);
    m.draining = () => this.drain.draining;
  }

  /** The peers as this node sees them now (tests and the ops view). */
  get peers(): readonly PeerLoad[] {
    return this.#peers.peers;
  }

  /** After the node joined the cluster. */
  start(): Promise<void> {
    return this.#peers.start();
  }

  stop(): void {
    this.#peers.stop();
    this.drain.stop();
  }

  /** SessionHost's admission asks this for every new connection: synchronous, no round trip. */
  readonly place = (): PlacementAnswer => {
    if (!this.drain.draining && !this.#o.rebalance.enabled) return undefined;
    const own = { node: this.#d.node, sessions: this.#d.sessions.store.size, draining: this.drain.draining };
    const p = place(own, this.#peers.peers, this.#o.rebalance);
    if (p.action === 'accept') return undefined;
    if (p.action === 'refuse') {
      this.#metrics.redirects.labels('draining-no-target').inc();
      return { reason: 'draining' };
    }
    this.#peers.sentTo(p.node);
    this.#metrics.redirects.labels(p.reason).inc();
    return { redirect: p.to, reason: p.reason === 'draining' ? 'draining' : 'rebalanced' };
  };
}
