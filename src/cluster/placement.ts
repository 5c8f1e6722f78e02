import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { SessionManager } from '../registry/session-manager.js';
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
  /** Where this node's metrics are registered. */
  readonly metrics: Registry;
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
  readonly #redirects: Counter<'reason'>;

  constructor(deps: PlacementDeps, opts: PlacementOptions) {
    this.#d = deps;
    this.#o = opts;
    this.#peers = new PeerLoads(deps.registry, deps, opts.heartbeatMs);
    const registers = [deps.metrics];
    const moved = new Counter({ name: 'iotsocket_cluster_drained_sessions_total', help: 'Sessions a drain handed off (Close 0x01, kept for their devices to resume elsewhere)', registers });
    this.#redirects = new Counter({ name: 'iotsocket_cluster_redirects_total', help: 'New clients sent to another node (PROTOCOL §3 redirect rule) or refused, by reason: draining, rebalance, draining-no-target', labelNames: ['reason'] as const, registers });
    this.drain = new Drain({
      clock: deps.clock, log: deps.log, sessions: deps.sessions, inFlight: deps.inFlight, handedOff: deps.handedOff, settleMs: opts.heartbeatMs,
      announce: async (draining) => {
        await deps.registry.setDraining(draining);
        await this.#peers.refresh(); // a drain picks its targets from a fresh view
      },
      counters: { started: () => deps.countDrain(), moved: () => moved.inc() },
    }, opts.drainRate);
    const draining: Gauge = new Gauge({ name: 'iotsocket_cluster_draining', help: '1 while this node is draining', registers, collect: (): void => draining.set(this.drain.draining ? 1 : 0) });
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
      this.#redirects.labels('draining-no-target').inc();
      return { reason: 'draining' };
    }
    this.#peers.sentTo(p.node);
    this.#redirects.labels(p.reason).inc();
    return { redirect: p.to, reason: p.reason === 'draining' ? 'draining' : 'rebalanced' };
  };
}
