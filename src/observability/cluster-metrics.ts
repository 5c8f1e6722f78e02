import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A plain count, added to its Counter when the registry is read. */
class Count {
  n = 0;
  flushed = 0;
}

/** What a cluster node's gauges read at scrape time (set by the daemon on a cluster node). */
export interface ClusterMetricSources {
  /** The live nodes the last heartbeat tick listed, each with the sessions it announced. */
  liveNodes(): ReadonlyArray<{ readonly node: string; readonly sessions: number }>;
  /** This node's inbox: batches unread and the age of the oldest; absent when the engine keeps none. */
  inbox?(): Promise<{ readonly depth: number; readonly lagMs: number }>;
}

/**
 * The per-node metrics of a cluster (issue 12 §4). Takeovers and drains are plain counts flushed
 * into prom-client when the registry is read; the gauges read their sources at scrape time, so
 * nothing here runs per message. On a single node every family is listed and stays at 0.
 */
export class ClusterMetrics {
  sources: ClusterMetricSources | undefined;
  readonly #takeovers = { in: new Count(), out: new Count() };
  readonly #expired = { deliver: new Count(), 'central-request': new Count() };
  /** Drains started on this node (POST /admin/drain, `iotsocket drain`): the drain calls countDrain(). */
  readonly drainsTotal = new Count();
  readonly nodesUp: Gauge;
  readonly nodeSessions: Gauge<'node'>;
  readonly inboxDepth: Gauge;
  readonly inboxLag: Gauge;
  readonly redisRoundTrip: Histogram;
  readonly takeovers: Counter<'way'>;
  readonly expired: Counter<'kind'>;
  readonly drains: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    const self = this;
    this.nodesUp = new Gauge({
      name: 'iotsocket_cluster_nodes_up', help: 'Cluster node: live nodes in the registry (this one included), as of the last heartbeat', registers,
      collect() { if (self.sources) this.set(self.sources.liveNodes().length); },
    });
    this.nodeSessions = new Gauge({
      name: 'iotsocket_cluster_node_sessions', help: 'Cluster node: sessions each live node announced with its last heartbeat', labelNames: ['node'] as const, registers,
      collect() {
        if (!self.sources) return;
        this.reset(); // a node gone is no longer listed
        for (const n of self.sources.liveNodes()) this.set({ node: n.node }, n.sessions);
      },
    });
    // One engine round trip per scrape feeds both inbox gauges.
    let inboxRead: Promise<{ depth: number; lagMs: number }> | undefined;
    const readInbox = () => (inboxRead ??= self.sources!.inbox!().catch(() => ({ depth: NaN, lagMs: NaN })).finally(() => { setImmediate(() => { inboxRead = undefined; }); }));
    this.inboxDepth = new Gauge({
      name: 'iotsocket_cluster_inbox_depth', help: 'Cluster node: batches of node-to-node messages waiting unread in this node\'s inbox (NaN while Redis is away)', registers,
      async collect() { if (self.sources?.inbox) this.set((await readInbox()).depth); },
    });
    this.inboxLag = new Gauge({
      name: 'iotsocket_cluster_inbox_lag_seconds', help: 'Cluster node: age of the oldest unread batch in this node\'s inbox, by Redis\'s clock (0: none waits; NaN while Redis is away)', registers,
      async collect() { if (self.sources?.inbox) this.set((await readInbox()).lagMs / 1000); },
    });
    this.redisRoundTrip = new Histogram({
      name: 'iotsocket_cluster_redis_roundtrip_seconds', help: 'Cluster node: Redis round trip (a PING after each heartbeat)', registers,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    });
    this.takeovers = new Counter({
      name: 'iotsocket_cluster_takeovers_total', help: 'Cluster node: sessions that moved between nodes by a takeover (in: a connection here took it from another node; out: one elsewhere took it from here)', labelNames: ['way'] as const, registers,
      collect() {
        for (const way of ['in', 'out'] as const) flush(self.#takeovers[way], (d) => this.inc({ way }, d));
      },
    });
    for (const way of ['in', 'out'] as const) this.takeovers.inc({ way }, 0); // both series listed from the start
    this.expired = new Counter({
      name: 'iotsocket_cluster_messages_expired_total', help: 'Cluster node: requests read from another node after their deadline (their origin was answered 0xA1 meanwhile), dropped undelivered, by message kind', labelNames: ['kind'] as const, registers,
      collect() {
        for (const kind of ['deliver', 'central-request'] as const) flush(self.#expired[kind], (d) => this.inc({ kind }, d));
      },
    });
    for (const kind of ['deliver', 'central-request'] as const) this.expired.inc({ kind }, 0);
    this.drains = new Counter({
      name: 'iotsocket_cluster_drains_total', help: 'Cluster node: drains started on this node', registers,
      collect() { flush(self.drainsTotal, (d) => this.inc(d)); },
    });
  }

  countTakeover(way: 'in' | 'out'): void {
    this.#takeovers[way].n++;
  }

  /** A request message read past its deadline and dropped. */
  countExpired(kind: 'deliver' | 'central-request'): void {
    this.#expired[kind].n++;
  }

  /** The drain's hook: one drain of this node started. */
  countDrain(): void {
    this.drainsTotal.n++;
  }
}

function flush(c: Count, add: (d: number) => void): void {
  const d = c.n - c.flushed;
  if (d > 0) add(d);
  c.flushed = c.n;
}
