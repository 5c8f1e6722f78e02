import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.js';
import { TOT_NAMES } from '../protocol/index.js';
import { ClusterMetrics } from './cluster-metrics.js';
import { LocalHistogram } from './local-histogram.js';

export const REQUEST_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** A hot-path count: a plain increment, handed to prom-client only when the registry is read. */
export class LocalCount {
  n = 0;
  flushed = 0;
  inc(): void {
    this.n++;
  }
}

/**
 * prom-client hashes the label set on every inc(), even on a bound child (a fifth of the
 * daemon's CPU under tcp-rr, bench/README.md): per-transmission and per-request counts are
 * kept locally and added to their Counter in its collect(), which every read runs first.
 */
function flushInto<L extends string>(counter: Counter<L>, counts: Iterable<readonly [Partial<Record<L, string>>, LocalCount]>): void {
  for (const [labels, c] of counts) {
    const d = c.n - c.flushed;
    if (d > 0) counter.inc(labels, d);
    c.flushed = c.n;
  }
}

/**
 * Prometheus metrics, one registry per daemon instance (no global state). Hot-path counts
 * are local numbers flushed into prom-client on read, so counting costs one increment.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #handshakeCounts = new Map<string, LocalCount>();
  /** Per handshake: counted locally (see countHandshake), flushed on read. */
  readonly handshakes: Counter<'result' | 'reason'> = new Counter({
    name: 'iotsocket_handshakes_total', help: 'TCP handshakes by result and reason', labelNames: ['result', 'reason'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.handshakes, pairs(this.#handshakeCounts, 'result', 'reason')),
  });
  /** Local counts for the per-transmission path, indexed by ToT. */
  readonly inByTot: LocalCount[] = [];
  readonly outByTot: LocalCount[] = [];
  readonly #requestCounts = { down: new Map<number, LocalCount>(), up: new Map<number, LocalCount>() };
  readonly transmissionsIn: Counter<'type'> = new Counter({
    name: 'iotsocket_transmissions_received_total', help: 'Transmissions received on TCP sessions', labelNames: ['type'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.transmissionsIn, byTot(this.inByTot)),
  });
  readonly transmissionsOut: Counter<'type'> = new Counter({
    name: 'iotsocket_transmissions_sent_total', help: 'Transmissions sent on TCP sessions', labelNames: ['type'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.transmissionsOut, byTot(this.outByTot)),
  });
  readonly requests: Counter<'direction' | 'code'> = new Counter({
    name: 'iotsocket_requests_total', help: 'Tracked requests by direction and the code they ended with', labelNames: ['direction', 'code'] as const, registers: [this.registry],
    collect: (): void => {
      for (const dir of ['down', 'up'] as const) {
        flushInto(this.requests, [...this.#requestCounts[dir]].map(([code, c]) => [{ direction: dir, code: String(code) }, c] as const));
      }
    },
  });
  /** Per request: counted locally (LocalHistogram), exported as prom-client's histogram would be. */
  readonly requestDuration = new LocalHistogram({
    name: 'iotsocket_request_duration_seconds', help: 'Time from forwarding a request to its response', labelName: 'direction',
    buckets: REQUEST_DURATION_BUCKETS, registers: [this.registry],
  });
  readonly lateResponses = new Counter({ name: 'iotsocket_late_responses_total', help: 'Responses dropped because nothing waited for them (late or unknown tracking)', labelNames: ['direction'] as const, registers: [this.registry] });
  readonly refusedRequests = new Counter({ name: 'iotsocket_requests_refused_total', help: 'Requests answered by the concentrator instead of forwarded, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly dropped = new Counter({ name: 'iotsocket_transmissions_dropped_total', help: 'Transmissions with no origin to answer that could not be delivered', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly protocolErrors = new Counter({ name: 'iotsocket_protocol_errors_total', help: 'Sessions closed for a protocol error', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly #sessionEventCounts = new Map<string, LocalCount>();
  /** Per session start and end: counted locally (see countSessionEvent), flushed on read. */
  readonly sessionEvents: Counter<'kind' | 'event'> = new Counter({
    name: 'iotsocket_session_events_total', help: 'Session lifecycle events', labelNames: ['kind', 'event'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.sessionEvents, pairs(this.#sessionEventCounts, 'kind', 'event')),
  });
  readonly #telemetryCounts = new Map<string, LocalCount>();
  /** Per datagram: counted locally (see countTelemetry), flushed on read. */
  readonly telemetry: Counter<'result' | 'reason'> = new Counter({
    name: 'iotsocket_telemetry_datagrams_total', help: 'UDP telemetry datagrams by result and reason', labelNames: ['result', 'reason'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.telemetry, pairs(this.#telemetryCounts, 'result', 'reason')),
  });
  readonly webhookPosts = new Counter({ name: 'iotsocket_webhook_posts_total', help: 'Webhook POST attempts by hook and outcome', labelNames: ['hook', 'outcome'] as const, registers: [this.registry] });
  readonly webhookDuration = new Histogram({
    name: 'iotsocket_webhook_post_duration_seconds', help: 'Time from sending a webhook POST to its answer (or failure)', labelNames: ['hook'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  readonly webhookQueueDropped = new Counter({ name: 'iotsocket_webhook_queue_dropped_total', help: 'Telemetry and presence events never delivered to their webhook: queue full, given up after retries, rejected (4xx), unconvertible, shutdown', labelNames: ['hook', 'reason'] as const, registers: [this.registry] });
  readonly webhookQueued = new Gauge({ name: 'iotsocket_webhook_queued', help: 'Items held for a queued webhook (queued, posting or waiting to retry)', labelNames: ['hook'] as const, registers: [this.registry] });
  readonly aclUpdates = new Counter({ name: 'iotsocket_acl_updates_total', help: 'ACL replacements by source and result', labelNames: ['source', 'result'] as const, registers: [this.registry] });
  /** What the scrape-time gauges read; the daemon sets it once wired. */
  sources: { sessions(): Iterable<{ kind: string; state: string }>; bufferedBytes(): number; inFlight(): number; tokens?(): number } | undefined;
  readonly sessions = new Gauge({
    name: 'iotsocket_sessions', help: 'Sessions by kind and state', labelNames: ['kind', 'state'] as const, registers: [this.registry],
    collect: () => {
      if (!this.sources) return;
      this.sessions.reset();
      for (const s of this.sources.sessions()) this.sessions.labels(s.kind, s.state).inc();
    },
  });
  readonly bufferedBytes = new Gauge({ name: 'iotsocket_buffered_bytes', help: 'Bytes held in offline buffers of kept sessions', registers: [this.registry], collect: () => { if (this.sources) this.bufferedBytes.set(this.sources.bufferedBytes()); } });
  readonly tokens = new Gauge({ name: 'iotsocket_telemetry_tokens', help: 'Telemetry tokens held (at most two per UID; expired ones until purged)', registers: [this.registry], collect: () => { if (this.sources?.tokens) this.tokens.set(this.sources.tokens()); } });
  readonly tokensRefused = new Counter({ name: 'iotsocket_telemetry_tokens_refused_total', help: 'Tokens not issued because the registry was full of live tokens (none is evicted)', registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'iotsocket_requests_in_flight', help: 'Tracked requests waiting for their response', registers: [this.registry], collect: () => { if (this.sources) this.inFlight.set(this.sources.inFlight()); } });

  /** Set on a cluster node (src/daemon.ts): what its gauges read at scrape time. */
  clusterSources: { up(): boolean; remoteWaits(): number } | undefined;
  readonly #clusterMessageCounts = new Map<string, LocalCount>();
  readonly #clusterMessageByKind = { in: new Map<string, LocalCount>(), out: new Map<string, LocalCount>() };
  /** Per node-to-node message: counted locally (clusterMessageCount), flushed on read. */
  readonly clusterMessages: Counter<'kind' | 'way'> = new Counter({
    name: 'iotsocket_cluster_messages_total', help: 'Node-to-node messages of a cluster, by kind and way (in, out)', labelNames: ['kind', 'way'] as const, registers: [this.registry],
    collect: (): void => flushInto(this.clusterMessages, pairs(this.#clusterMessageCounts, 'kind', 'way')),
  });
  readonly clusterUp = new Gauge({
    name: 'iotsocket_cluster_up', help: 'Cluster node: 1 while it reaches the shared engine (Redis) and holds a live lease, else 0 (absent on a single node)', registers: [this.registry],
    collect: () => { if (this.clusterSources) this.clusterUp.set(this.clusterSources.up() ? 1 : 0); },
  });
  readonly clusterRemoteWaits = new Gauge({
    name: 'iotsocket_cluster_remote_requests', help: 'Cluster node: requests waiting here for the answer of the node holding their object', registers: [this.registry],
    collect: () => { if (this.clusterSources) this.clusterRemoteWaits.set(this.clusterSources.remoteWaits()); },
  });

  /** Per-node cluster metrics: nodes up, sessions per node, inbox, Redis round trip, takeovers, drains. */
  readonly cluster = new ClusterMetrics(this.registry);

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    for (const tot of Object.keys(TOT_NAMES)) {
      this.inByTot[Number(tot)] = new LocalCount();
      this.outByTot[Number(tot)] = new LocalCount();
    }
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'iotsocket_' });
  }

  /** Counts a settled request (iotsocket_requests_total) without touching prom-client. */
  countRequest(direction: 'down' | 'up', code: number): void {
    const m = this.#requestCounts[direction];
    let c = m.get(code);
    if (!c) m.set(code, (c = new LocalCount()));
    c.inc();
  }

  /** Counts a UDP datagram (iotsocket_telemetry_datagrams_total) without touching prom-client. */
  countTelemetry(result: 'accepted' | 'dropped', reason: string): void {
    countPair(this.#telemetryCounts, result, reason);
  }

  /** Counts a handshake (iotsocket_handshakes_total): 'accepted' with the kind, or 'refused' with the reason. */
  countHandshake(result: 'accepted' | 'refused', reason: string): void {
    countPair(this.#handshakeCounts, result, reason);
  }

  /**
   * The count of node-to-node messages of `kind` going `way` (iotsocket_cluster_messages_total,
   * without touching prom-client), made on first use: the caller holds it and adds to its `n` (no
   * lookup per message). Made only as it is first counted, so /metrics lists the series counted.
   */
  clusterMessageCount(kind: string, way: 'in' | 'out'): LocalCount {
    // One count object per (kind, way), found without building a key string per message.
    const byKind = this.#clusterMessageByKind[way];
    let c = byKind.get(kind);
    if (!c) {
      const key = `${kind}|${way}`;
      c = this.#clusterMessageCounts.get(key) ?? new LocalCount();
      this.#clusterMessageCounts.set(key, c);
      byKind.set(kind, c);
    }
    return c;
  }

  /** Counts a session lifecycle event (iotsocket_session_events_total). */
  countSessionEvent(kind: string, event: string): void {
    countPair(this.#sessionEventCounts, kind, event);
  }

  /** Reads a counter's current value (tests, admin views). */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = await this.registry.getSingleMetric(name)?.get();
    if (!m) return 0;
    const hit = m.values.filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
    return hit.reduce((a, v) => a + v.value, 0);
  }
}

/** Local counts keyed by two label values joined with '|' (no label value here contains one). */
function countPair(counts: Map<string, LocalCount>, a: string, b: string): void {
  const key = `${a}|${b}`;
  let c = counts.get(key);
  if (!c) counts.set(key, (c = new LocalCount()));
  c.inc();
}

function pairs<A extends string, B extends string>(counts: Map<string, LocalCount>, a: A, b: B): Array<readonly [Record<A | B, string>, LocalCount]> {
  return [...counts].map(([k, c]) => {
    const i = k.indexOf('|');
    return [{ [a]: k.slice(0, i), [b]: k.slice(i + 1) } as Record<A | B, string>, c] as const;
  });
}

function byTot(counts: readonly LocalCount[]): Array<readonly [{ type: string }, LocalCount]> {
  const out: Array<readonly [{ type: string }, LocalCount]> = [];
  counts.forEach((c, tot) => out.push([{ type: TOT_NAMES[tot]! }, c]));
  return out;
}
