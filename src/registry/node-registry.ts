import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.js';
import { NodeProtocolMismatchError, firstIncompatible, rangeOf, type ProtocolRange } from './node-protocol.js';

/** What a node announces with every heartbeat (issue 12: load publishing, mixed versions). */
export interface NodeAnnouncement {
  /** Where clients and nodes reach it (`host:port`). */
  readonly address: string;
  /** Sessions it holds: its load. */
  readonly sessions: number;
  /** The highest version of node-to-node messages it speaks (all that records held before ranges). */
  readonly protocol: number;
  /** Every version it speaks (rolling upgrades); absent: just `protocol`. */
  readonly protocols?: ProtocolRange;
  /** Where other nodes' links reach it, and the key they prove they know (direct node links; absent with the stream inbox). */
  readonly link?: { readonly address: string; readonly key: string };
  /** Where clients reach it, for redirects; absent: never a redirect target (a wildcard bind and no `cluster.advertise`). */
  readonly advertise?: { readonly host: string; readonly port: number };
  /** It takes no new session (a drain): peers send no client to it. Absent in older nodes' entries: false. */
  readonly draining?: boolean;
}

export interface NodeInfo extends NodeAnnouncement {
  readonly node: string;
  /** Changes at every start and after every lapse: a reap names the incarnation that died. */
  readonly incarnation: string;
}

/** 'lapsed': the lease could not be refreshed for leaseMs; others may reap this node: stop claiming. */
export type LeaseState = 'idle' | 'live' | 'lapsed' | 'stopped';

export interface NodeLeaseOptions {
  readonly heartbeatMs: number;
  /** A node whose lease was not refreshed for this long is dead (Centrifugo: 3 s heartbeats, dead after 7 s). */
  readonly leaseMs: number;
  /** A reap claim lasts this long: a reaper that dies mid-reap is replaced after it. */
  readonly reapClaimMs: number;
}

export const NODE_LEASE_DEFAULTS: NodeLeaseOptions = { heartbeatMs: 3_000, leaseMs: 7_000, reapClaimMs: 60_000 };

/** What an engine stores: a lease per node (expiring by itself), the list of known nodes, reap claims. */
export interface NodeRegistryEngine {
  /** Writes `info.node`'s lease (valid `leaseMs` from now) and its entry in the list. */
  announce(info: NodeInfo, leaseMs: number): Promise<void>;
  /** Every known node, and whether the lease of the incarnation listed is current. */
  list(): Promise<Array<{ info: NodeInfo; live: boolean }>>;
  /** Claims the reaping of a dead incarnation for `claimMs`: true for one caller only, false while it is live. */
  claimReap(dead: NodeInfo, by: string, claimMs: number): Promise<boolean>;
  /** Removes the dead incarnation's entry (a newer incarnation's entry stays). */
  forget(dead: NodeInfo): Promise<void>;
  /** A graceful stop: removes the node's lease and entry. */
  leave(info: NodeInfo): Promise<void>;
  /** One bare round trip to the engine, timed by each heartbeat (absent: an engine in this process). */
  ping?(): Promise<void>;
}

/**
 * Liveness (CLUSTER.md guarantee 5): each node holds a lease in the engine, refreshed by a
 * heartbeat that also publishes its load. A node that could not refresh for `leaseMs` (counted
 * from the sending of its last successful refresh, so never later than the engine's own expiry)
 * turns 'lapsed' and should stop claiming; its next successful refresh starts a new incarnation
 * (the old one may have been reaped meanwhile). Survivors list dead nodes and race to reap each:
 * exactly one wins a reap claim (per incarnation, for `reapClaimMs`).
 */
export class NodeRegistry {
  readonly node: string;
  readonly #e: NodeRegistryEngine;
  readonly #clock: Clock;
  readonly #o: NodeLeaseOptions;
  #announcement: NodeAnnouncement | undefined;
  #incarnation = '';
  #state: LeaseState = 'idle';
  #lastOkSentAt = -Infinity;
  #beat: TimerHandle | undefined;
  #lapse: TimerHandle | undefined;
  readonly #listeners = new Set<(s: LeaseState) => void>();
  readonly #roundTrips = new Set<(ms: number) => void>();

  constructor(node: string, engine: NodeRegistryEngine, clock: Clock, opts: Partial<NodeLeaseOptions> = {}) {
    this.node = node;
    this.#e = engine;
    this.#clock = clock;
    this.#o = { ...NODE_LEASE_DEFAULTS, ...opts };
    if (!(this.#o.heartbeatMs > 0 && this.#o.leaseMs > this.#o.heartbeatMs)) {
      throw new Error(`node lease: leaseMs (${this.#o.leaseMs}) must exceed heartbeatMs (${this.#o.heartbeatMs}) > 0`);
    }
  }

  get state(): LeaseState {
    return this.#state;
  }

  get incarnation(): string {
    return this.#incarnation;
  }

  /** Calls `fn` on every change of state; returns a function that stops it. */
  onState(fn: (s: LeaseState) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Calls `fn` with the time of each heartbeat's round trip to the engine (a PING after the refresh). */
  onRoundTrip(fn: (ms: number) => void): () => void {
    this.#roundTrips.add(fn);
    return () => this.#roundTrips.delete(fn);
  }

  /**
   * Rejects with a NodeProtocolMismatchError (ERR_IOTS_CLUSTER_PROTOCOL) naming the first live
   * node whose versions do not overlap `own`: two such nodes could not read each other's messages.
   */
  async checkProtocols(own: ProtocolRange): Promise<void> {
    const other = firstIncompatible(this.node, own, await this.live());
    if (other) throw new NodeProtocolMismatchError(this.node, own, { node: other.node, address: other.address, protocols: rangeOf(other) });
  }

  /**
   * Joins: refuses (checkProtocols) when a live node speaks no version in common with this one,
   * then announces and heartbeats. Rejects if the engine is away.
   */
  async start(a: NodeAnnouncement): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`node ${this.node}: already started`);
    await this.checkProtocols(rangeOf(a));
    this.#announcement = { ...a, draining: a.draining ?? false };
    this.#incarnation = newIncarnation();
    await this.#refresh();
    this.#schedule();
  }

  /** The load the next heartbeat publishes. */
  setSessions(sessions: number): void {
    if (this.#announcement) this.#announcement = { ...this.#announcement, sessions };
  }

  /**
   * Announces the drain flag at once rather than at the next heartbeat, so peers stop sending
   * clients here within a round trip. Rejects if the engine is away (the next heartbeat carries it).
   */
  async setDraining(draining: boolean): Promise<void> {
    if (!this.#announcement || this.#announcement.draining === draining) return;
    this.#announcement = { ...this.#announcement, draining };
    if (this.#state === 'live') await this.#e.announce(this.#info(), this.#o.leaseMs);
  }

  async live(): Promise<NodeInfo[]> {
    return (await this.#e.list()).filter((n) => n.live).map((n) => n.info);
  }

  /** Known nodes whose lease lapsed, not yet forgotten: to reap. */
  async dead(): Promise<NodeInfo[]> {
    return (await this.#e.list()).filter((n) => !n.live && n.info.node !== this.node).map((n) => n.info);
  }

  /** True for exactly one survivor: that one answers the dead node's requests and keeps its sessions. */
  async reap(dead: NodeInfo): Promise<boolean> {
    if (this.#state !== 'live') return false; // a node that may itself be reaped claims nothing
    return this.#e.claimReap(dead, `${this.node}.${this.#incarnation}`, this.#o.reapClaimMs);
  }

  /** The reaper is done: the dead incarnation leaves the list. */
  forget(dead: NodeInfo): Promise<void> {
    return this.#e.forget(dead);
  }

  /** Stops heartbeating without leaving the list: the lease lapses and survivors reap this node, as after a crash. */
  abandon(): void {
    this.#halt();
  }

  /** Stops heartbeating and leaves the list (a graceful stop; a crash leaves the lease to lapse). */
  async stop(): Promise<void> {
    const was = this.#state;
    this.#halt();
    if (was !== 'idle' && this.#announcement) await this.#e.leave(this.#info()).catch(() => {}); // the lease lapses anyway
  }

  #info(): NodeInfo {
    return { node: this.node, incarnation: this.#incarnation, ...this.#announcement! };
  }

  async #refresh(): Promise<void> {
    if (this.#state === 'lapsed') this.#incarnation = newIncarnation();
    const sentAt = this.#clock.now();
    await this.#e.announce(this.#info(), this.#o.leaseMs);
    if (this.#state === 'stopped') return;
    if (this.#e.ping && this.#roundTrips.size > 0) void this.#timePing(this.#e.ping.bind(this.#e));
    this.#lastOkSentAt = sentAt;
    this.#clock.clearTimeout(this.#lapse);
    this.#lapse = this.#clock.setTimeout(() => this.#checkLapse(), sentAt + this.#o.leaseMs - this.#clock.now());
    this.#set('live');
  }

  async #timePing(ping: () => Promise<void>): Promise<void> {
    const t0 = this.#clock.now();
    try {
      await ping();
    } catch {
      return; // the next heartbeat's refresh says whether the engine is away
    }
    const ms = this.#clock.now() - t0;
    for (const fn of this.#roundTrips) fn(ms);
  }

  #schedule(): void {
    this.#beat = this.#clock.setTimeout(() => {
      this.#refresh().catch(() => {}).finally(() => { if (this.#state !== 'stopped') this.#schedule(); });
    }, this.#o.heartbeatMs);
  }

  #checkLapse(): void {
    if (this.#state !== 'live') return;
    const left = this.#lastOkSentAt + this.#o.leaseMs - this.#clock.now();
    // A system timer may fire a fraction of a millisecond before performance.now() reaches its time.
    if (left > 0) this.#lapse = this.#clock.setTimeout(() => this.#checkLapse(), Math.max(1, left));
    else this.#set('lapsed');
  }

  #halt(): void {
    this.#clock.clearTimeout(this.#beat);
    this.#clock.clearTimeout(this.#lapse);
    this.#set('stopped');
  }

  #set(s: LeaseState): void {
    if (this.#state === s) return;
    this.#state = s;
    for (const fn of this.#listeners) fn(s);
  }
}

function newIncarnation(): string {
  return randomBytes(4).toString('hex');
}

/** The fleet of one process (the single node, or several in a test): leases by the shared clock. */
export class MemoryNodeBacking {
  readonly leases = new Map<string, { incarnation: string; until: number }>();
  readonly entries = new Map<string, NodeInfo>();
  readonly reaps = new Map<string, number>();
  /** False: every operation fails, as an engine that is away (for tests of lapses). */
  reachable = true;
  constructor(readonly clock: Clock) {}
}

export class MemoryNodeRegistryEngine implements NodeRegistryEngine {
  readonly #b: MemoryNodeBacking;

  constructor(backing: MemoryNodeBacking) {
    this.#b = backing;
  }

  async announce(info: NodeInfo, leaseMs: number): Promise<void> {
    this.#reach();
    this.#b.leases.set(info.node, { incarnation: info.incarnation, until: this.#b.clock.now() + leaseMs });
    this.#b.entries.set(info.node, info);
  }

  async list(): Promise<Array<{ info: NodeInfo; live: boolean }>> {
    this.#reach();
    return [...this.#b.entries.values()].map((info) => ({ info, live: this.#live(info) }));
  }

  async claimReap(dead: NodeInfo, by: string, claimMs: number): Promise<boolean> {
    this.#reach();
    if (this.#live(dead)) return false;
    const key = `${dead.node}.${dead.incarnation}`;
    const now = this.#b.clock.now();
    for (const [k, until] of this.#b.reaps) if (until <= now) this.#b.reaps.delete(k); // claims expire, as in Redis
    if (this.#b.reaps.has(key)) return false;
    this.#b.reaps.set(key, now + claimMs);
    void by;
    return true;
  }

  async forget(dead: NodeInfo): Promise<void> {
    this.#reach();
    if (this.#b.entries.get(dead.node)?.incarnation === dead.incarnation) this.#b.entries.delete(dead.node);
  }

  async leave(info: NodeInfo): Promise<void> {
    this.#reach();
    if (this.#b.leases.get(info.node)?.incarnation === info.incarnation) this.#b.leases.delete(info.node);
    if (this.#b.entries.get(info.node)?.incarnation === info.incarnation) this.#b.entries.delete(info.node);
  }

  #live(info: NodeInfo): boolean {
    const l = this.#b.leases.get(info.node);
    return l !== undefined && l.incarnation === info.incarnation && l.until > this.#b.clock.now();
  }

  #reach(): void {
    if (!this.#b.reachable) throw new Error('node registry unreachable');
  }
}
