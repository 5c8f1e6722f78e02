import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import { CENTRAL_UID, CloseCode, ResponseCode, ToT, decodeTransmissions, encodeTransmission, type Payload, type Transmission } from '../protocol/index.js';
import type { BufferedRequest } from '../registry/offline-buffer.js';
import type { BufferedEntry } from '../registry/session-buffers.js';
import { ClaimOutcomeUnknown, type DirectoryEntry } from '../registry/session-directory.js';
import type { Session, SessionKind } from '../registry/session.js';
import { ClaimRefusedError, type SessionManager, type SessionView, type SharedClaim, type SharedLinkInfo, type SharedSessions } from '../registry/session-manager.js';
import type { RefusalReason } from '../routing/reasons.js';
import { EMPTY_PAYLOAD, type GeneratedReason, type PendingRequest, type RequestTracker, type ResponseTarget } from '../routing/request-tracker.js';
import type { RemoteRouting, Router } from '../routing/router.js';
import type { ClusterEngines } from './engines.js';
import { NodeProtocolMismatchError, announceRange, type ProtocolRange } from '../registry/node-protocol.js';
import { forEachPacked } from '../registry/node-inbox.js';
import type { NodeInfo } from '../registry/node-registry.js';
import { LiveNodes } from './live-nodes.js';
import { RemoteWaits } from './remote-waits.js';
import { redisFailureCause } from '../redis/outcome.js';
import {
  NodeMessageError, decodeNodeMessage, encodeCentralRequestInto, encodeNodeMessage, encodeNodeMessageInto, encodeOriginResponseInto,
  type MessageEncoderFor, type NodeMessage, type TrackRef,
} from './node-messages.js';

export interface FleetOptions {
  readonly keepSessionMs: number;
  readonly buffers: { readonly maxPerSession: number; readonly maxBytesPerSession: number };
  /** A request sent to another node's tracker is answered here this long after its timeout if that node never answers (it died). */
  readonly backstopGraceMs: number;
  /** How long a response is remembered as going to another node's tracker: the longest request timeout plus a margin. */
  readonly forwardTtlMs: number;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  /** The node-protocol versions announced; default: those this build speaks (tests claim another release's). */
  readonly protocols?: ProtocolRange;
}

export interface FleetCounters {
  refused(reason: RefusalReason): void;
  lateResponse(dir: 'down' | 'up', uid: string, tracking: number): void;
  /**
   * The count of messages of `kind` received here ('in') or sent ('out'): the fleet adds one to
   * `n` per message. Asked for once per kind and way, as it is first counted; the fleet holds it.
   */
  messageCount(kind: NodeMessage['kind'], way: 'in' | 'out'): { n: number };
  /** A session moved between nodes: 'in', a connection here took it over from another node; 'out', one elsewhere took it from here. */
  takeover?(way: 'in' | 'out'): void;
  /** A request read here after its deadline (its origin was answered 0xA1): dropped, never delivered. */
  expired?(kind: 'deliver' | 'central-request'): void;
}

/** A request on its way to a session: where it is tracked, how to refuse it, how to unbuffer it once answered. */
interface Tracked {
  readonly ref: TrackRef;
  refuse(why: RefusalReason): void;
  /** It now waits in `session`'s kept buffer; `remove` takes it out once it is answered. */
  buffered(session: string, remove: () => void): void;
}

/** Messages re-routed by a node that no longer holds the session: a bound, so a moving session cannot loop. */
const MAX_HOPS = 3;
/**
 * A route (UID → the node holding its connection) is trusted this long: a stale one costs a hop
 * (the node that no longer holds the session routes the message on), never a loss.
 */
const ROUTE_TTL_MS = 5_000;
/** A kept buffer outlives its session in Redis by this much (the sweep empties it first). */
const BUFFER_TTL_MARGIN_MS = 10 * 60_000;
const TELEMETRY_SHARE = 0.5;
const SWEEP_MS = 1_000;
const BACKSTOP_SWEEP_MS = 100;
const SWEEP_BATCH = 200;

/** An origin on another node: the answer travels back to it through its inbox. */
class RemoteOrigin implements ResponseTarget {
  constructor(readonly fleet: Fleet, readonly node: string, readonly id: number, readonly hops: number) {}
  deliverResponse(uid: string, tracking: number, code: number, payload: Payload, reason?: GeneratedReason): void {
    this.fleet.postOriginResponse(this.node, { kind: 'origin-response', id: this.id, uid, tracking, code, reason: reason ?? '', payload });
  }
}

/**
 * One node's part of a cluster (CLUSTER.md): the session directory decides who holds each UID,
 * kept sessions and their buffers live in the shared engine, and what is addressed to a UID not
 * connected here travels to its node through that node's inbox. The node holding an object
 * tracks every request to it (one tracking space fleet-wide); a remote origin keeps a backstop
 * timer so that a node's death still yields exactly one answer.
 */
export class Fleet implements SharedSessions, RemoteRouting {
  readonly node: string;
  readonly #e: ClusterEngines;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sessions: SessionManager;
  readonly #tracker: RequestTracker;
  readonly #opts: FleetOptions;
  readonly #counters: FleetCounters;
  #router: Router | undefined;
  readonly #routes = new Map<string, { node: string; at: number }>();
  /** Per UID, fleet operations run in the order they were asked (a keep before the deliveries that follow it). */
  readonly #chains = new Map<string, Promise<void>>();
  /** UIDs being claimed here: what arrives for them waits until the session is attached. */
  readonly #attaching = new Map<string, { n: number; waiters: Array<() => void> }>();
  /** Central-side requests sent to the node holding their object: their origins wait here, by id. */
  readonly #waits = new RemoteWaits();
  /**
   * 'dir uid tracking' → the node tracking a request delivered here, for its response; node ''
   * for an orphan (its tracker's run is gone): the response goes straight to the other party.
   */
  readonly #forwarded = new Map<string, { node: string; at: number }>();
  #dead = new Set<string>();
  /** Live nodes as of the last heartbeat tick (this one included): a buffered request's tracker is alive or not; the version each reads. */
  readonly #nodes: LiveNodes;
  /** Writes that failed while the engine was away, retried each sweep: removals of answered requests from kept buffers, keeps of claims (both idempotent). */
  #retries: Array<() => Promise<unknown>> = [];
  #seq = 0;
  readonly #timers = new Map<string, TimerHandle>();
  #stopped = false;
  /** Gone as a crash would: nothing more is written anywhere. */
  #abandoned = false;
  #unreadable = 0;
  #expired = 0;
  /** When the batch being handled was read, by the monotonic clock and by the wall clock: the time its requests start at, and what a deadline is checked against (clock reads per batch, not per request). */
  #readAt = 0;
  #readEpoch = 0;
  /** Each kind's message count, in and out, held once first counted (no lookup per message). */
  readonly #counts: Record<'in' | 'out', Partial<Record<NodeMessage['kind'], { n: number }>>> = { in: {}, out: {} };

  constructor(engines: ClusterEngines, deps: { clock: Clock; log: Logger; sessions: SessionManager; tracker: RequestTracker; counters: FleetCounters }, opts: FleetOptions) {
    this.node = engines.node;
    this.#e = engines;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#tracker = deps.tracker;
    this.#counters = deps.counters;
    this.#opts = opts;
    this.#nodes = new LiveNodes(this.node, this.#log, opts.protocols);
  }

  /** The router is built with this fleet as its RemoteRouting; it is handed back here. */
  bindRouter(router: Router): void {
    this.#router = router;
  }

  /** The shared engines this node runs on (the ops API and tests read them). */
  get engines(): ClusterEngines {
    return this.#e;
  }

  get live(): boolean {
    return this.#e.registry.state === 'live' && this.#e.reachability === 'reachable';
  }

  /** Requests waiting here for another node's answer, and responses remembered for other nodes' trackers. */
  get pendingRemote(): { waits: number; forwarded: number } {
    return { waits: this.#waits.size, forwarded: this.#forwarded.size };
  }

  /** Live nodes with what each announced (its load, its versions), as of the last heartbeat tick. */
  get liveNodes(): readonly NodeInfo[] {
    return this.#nodes.infos;
  }

  /**
   * Before anything is bound: rejects (ERR_IOTS_CLUSTER_PROTOCOL, logged naming the other node
   * and its versions) when a live node speaks no node-protocol version in common with this one.
   */
  async ensureCompatible(): Promise<void> {
    await this.#logMismatch(this.#e.registry.checkProtocols(this.#nodes.announced));
    this.#nodes.assertWritable(); // after: among live nodes, the one it cannot join is the better message
  }

  /** Joins (after ensureIdFree, before which nothing is bound): reads the inbox, announces the node (`advertise`: where clients reach it), takes up what an earlier run with this id held, starts the sweeps. */
  async start(address: string, advertise?: { readonly host: string; readonly port: number }): Promise<void> {
    this.#nodes.assertWritable();
    await this.#e.inbox.start((batch) => this.#onBatch(batch), (packed) => {
      this.#readAt = this.#clock.now();
      this.#readEpoch = this.#clock.epochMs();
      forEachPacked(packed, this.#onMessage);
    });
    // The registry checks the versions again as it joins: a node of another release may have started meanwhile.
    const link = this.#e.inbox.link;
    await this.#logMismatch(this.#e.registry.start({ address, sessions: 0, ...announceRange(this.#nodes.announced), ...(link && { link }), ...(advertise && { advertise }) }));
    this.#e.directory.useIncarnation(this.#e.registry.incarnation);
    await this.#adoptPreviousRun();
    this.#nodes.update(await this.#e.registry.live());
    let lapsed = false;
    this.#e.registry.onState((state) => {
      if (state === 'lapsed') {
        lapsed = true;
        this.#log.warn({ event: 'node-lease-lapsed', node: this.node }, 'node lease lapsed: no new session is claimed until it is renewed (others may reap this node)');
      } else if (state === 'live' && lapsed) {
        lapsed = false;
        this.#e.directory.useIncarnation(this.#e.registry.incarnation); // a renewal after a lapse is a new incarnation
        this.#log.warn({ event: 'node-lease-renewed', node: this.node }, 'node lease renewed: checking the sessions held here against the directory');
        this.#reconcile().catch((err: unknown) => this.#log.warn({ event: 'reconcile-failed', err: String(err) }, 'reconciling after a lapse failed'));
      }
    });
    this.#every('sweep', SWEEP_MS, () => this.#sweep());
    this.#every('backstop', BACKSTOP_SWEEP_MS, async () => {
      const now = this.#clock.now();
      for (const id of this.#waits.expired(now)) this.#settleWait(id, ResponseCode.TIMEOUT, 'timeout');
    });
    this.#every('nodes', this.#opts.heartbeatMs, () => this.#watchNodes());
  }

  async #logMismatch(joining: Promise<void>): Promise<void> {
    try {
      await joining;
    } catch (err) {
      if (err instanceof NodeProtocolMismatchError) {
        this.#log.error({ event: 'node-protocol-mismatch', node: this.node, protocols: err.own, other: err.other.node, otherAddress: err.other.address, otherProtocols: err.other.protocols }, err.message);
      }
      throw err;
    }
  }

  /** Leaves the cluster: every wait is answered, the node's lease and inbox are given up. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t);
    for (const id of this.#waits.ids()) this.#settleWait(id, ResponseCode.NOT_FOUND, 'shutdown');
    await Promise.allSettled([...this.#chains.values()]);
    await this.#e.inbox.flush().catch(() => {});
    await this.#e.registry.stop();
  }

  /**
   * Leaves as a crash would (the daemon's destroy()): no answer, no goodbye; the lease lapses and
   * a survivor reaps this node. What this node tracked is answered by its origins' own nodes.
   */
  abandon(): void {
    this.#abandoned = true;
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t);
    this.#waits.clear();
    this.#e.registry.abandon();
  }

  // ---- SharedSessions: the session manager's side ----

  async claim(uid: string, kind: SessionKind, group: string, link: SharedLinkInfo): Promise<SharedClaim> {
    if (!this.live) {
      const why = this.#e.reachability === 'unreachable' ? 'redis-unreachable' : this.#e.registry.state === 'lapsed' ? 'lease-lapsed' : 'not-live';
      throw new ClaimRefusedError(why, `node ${this.node} is not live in the cluster (Redis ${this.#e.reachability}, lease ${this.#e.registry.state})`);
    }
    const a = this.#attaching.get(uid) ?? { n: 0, waiters: [] };
    a.n++;
    this.#attaching.set(uid, a);
    let claimed: string | undefined;
    let unknown = false;
    try {
      const now = this.#clock.epochMs();
      const info = { kind, group, peer: link.peer, tls: link.tls, maxTransmissionLength: link.maxTransmissionLength };
      let result;
      try {
        result = await this.#e.directory.claim(uid, info, now);
      } catch (err) {
        // Redis may still apply it: the finally below keeps that claim (fenced by it), so no entry
        // stays "connected" here for a connection that was refused.
        if (err instanceof ClaimOutcomeUnknown) {
          claimed = err.claim;
          unknown = true;
        }
        throw claimRefused(err);
      }
      const { claim, previous } = result;
      claimed = claim;
      this.#routes.delete(uid);
      if (previous?.state === 'connected' && previous.node !== this.node) {
        this.post(previous.node, { kind: 'takeover', uid, claim: previous.claim });
        this.#counters.takeover?.('in');
      }
      // Nodes that routed to it elsewhere forget that route now: a device moving is routable at once.
      // Handed to Redis before the device is accepted, so the notice is on its way before anything it triggers.
      if (previous && previous.node !== this.node) {
        for (const n of this.#nodes.ids) if (n !== this.node) this.post(n, { kind: 'moved', uid });
        await this.#e.inbox.flush().catch(() => {});
      }
      // Taken after the claim: an append guarded by the old claim can no longer land behind it.
      const replay = previous ? await this.#replay(uid, await this.#e.buffers.take(uid), link.maxTransmissionLength) : [];
      return previous ? { claim, previous: { node: previous.node, state: previous.state, peer: previous.peer }, replay } : { claim, replay };
    } finally {
      // The handshake accepts and attaches in the microtasks that follow; what waited goes to the session after.
      setImmediate(() => {
        // The peer left between the claim and its acceptance: the claim becomes a kept session, so it expires.
        if (claimed !== undefined && this.#sessions.get(uid)?.claim !== claimed) this.#keepClaim(uid, claimed, undefined, unknown ? () => this.#lostClaimSettled(uid) : undefined);
        if (--a.n > 0) return;
        this.#attaching.delete(uid);
        for (const w of a.waiters) w();
      });
    }
  }

  keep(s: Session, keepMs: number): void {
    this.#keepClaim(s.uid, s.claim, keepMs);
  }

  /** `settled`: called once the engine answered the keep (kept or fenced), the write retried until then. */
  #keepClaim(uid: string, claim: string, keepMs = this.#opts.keepSessionMs, settled?: () => void): void {
    this.#routes.delete(uid);
    const keptUntil = this.#clock.epochMs() + keepMs;
    const keep = async () => {
      const now = this.#clock.epochMs();
      // Idempotent: fenced by the claim, so a retry after a newer claim (the device back) does nothing.
      if (!(await this.#e.directory.keep(uid, claim, Math.max(keptUntil, now + 1), now))) this.#log.debug({ event: 'keep-fenced', uid }, 'session kept elsewhere meanwhile');
      settled?.();
    };
    this.#inOrder(uid, async () => {
      try {
        await keep();
      } catch (err) {
        // The entry still says connected here: tried again each sweep until the engine answers.
        this.#log.warn({ event: 'keep-failed', uid, err: String(err) }, 'kept session not written to the cluster engine: retried each second');
        this.#retries.push(keep);
      }
    });
  }

  /**
   * A claim here whose reply was lost (ClaimOutcomeUnknown) is settled: its keep was answered, so
   * Redis has applied it or never will. That reply said what the claim replaced, a connection to
   * take over (0xA1) — never told. So every node, this one too, checks the connection it holds for
   * `uid` against the directory (#verifyHeld): a `moved` notice, which also drops stale routes.
   * Sent whether the keep landed or was fenced: a newer claim of this node since (the device
   * retried here) posts no notice of its own, and the connection it replaced may be that one.
   */
  #lostClaimSettled(uid: string): void {
    for (const n of this.#nodes.ids) if (n !== this.node) this.post(n, { kind: 'moved', uid });
    this.#verifyHeld(uid);
  }

  /**
   * `uid`'s entry may have moved from the connection here (a `moved` notice): one whose claim it
   * no longer is was replaced without this node being told (the claim's reply lost, so no
   * takeover): it closes 0xA1, as a takeover would have. One claim is never written again, so an
   * entry of another claim, read after this session's claim was, proves it replaced; no entry at
   * all (Redis lost it) proves nothing.
   */
  #verifyHeld(uid: string): void {
    const s = this.#sessions.get(uid);
    if (!s?.link) return;
    const claim = s.claim;
    this.#e.directory.lookup(uid).then((e) => {
      // Attached to a newer connection meanwhile (its claim is the entry), or gone: nothing to do.
      if (!e || e.claim === claim || this.#sessions.get(uid) !== s || s.claim !== claim || !s.link) return;
      this.#log.warn({ event: 'session-replaced', uid, kind: s.kind, claim, by: e.claim, node: e.node },
        'a newer claim took this session without this node being told (its reply was lost): the connection here closes 0xA1');
      if (e.node !== this.node) this.#counters.takeover?.('out');
      this.#sessions.release(s);
    }, (err: unknown) => this.#log.debug({ event: 'verify-held-failed', uid, err: String(err) }, 'could not check a session held here against the directory'));
  }

  /**
   * A drain handed `uid` off (its session now kept): the other nodes forget their route here, once
   * the keep is written, so what they send next finds it kept or wherever it resumed, not this node.
   */
  forgetRouteHere(uid: string): void {
    this.#inOrder(uid, () => { for (const n of this.#nodes.ids) if (n !== this.node) this.post(n, { kind: 'moved', uid }); });
  }

  end(s: SessionView & { readonly claim: string }): void {
    const { uid, claim } = s;
    this.#routes.delete(uid);
    this.#inOrder(uid, async () => {
      try {
        if (await this.#e.directory.end(uid, claim)) await this.#answerBuffered(uid, 'session-ended');
      } catch (err) {
        this.#log.warn({ event: 'end-failed', uid, err: String(err) }, 'session end not written to the cluster engine: its entry expires by itself');
      }
    });
  }

  offer(uid: string, t: Transmission, request?: BufferedRequest): void {
    this.#offer(uid, t, request && this.#localTracked(request as PendingRequest));
  }

  // ---- RemoteRouting: the router's side ----

  toCentral(t: Transmission, p: PendingRequest, miss: () => void): void {
    this.#offer(CENTRAL_UID, t, this.#localTracked(p), miss);
  }

  telemetry(uid: string, payload: Payload, miss: () => void, missWhenKept: boolean): void {
    this.#offer(CENTRAL_UID, { type: ToT.TELEMETRY, uid, payload }, undefined, miss, missWhenKept);
  }

  centralRequest(uid: string, tracking: number, payload: Payload, origin: ResponseTarget, timeoutMs: number, at?: number): void {
    const hops = origin instanceof RemoteOrigin ? origin.hops : 0;
    const route = this.#chains.has(uid) ? undefined : this.#route(uid, at);
    if (route !== undefined && hops < MAX_HOPS) return this.#sendRequest(route, uid, tracking, payload, origin, timeoutMs, hops, at);
    const answer = (why: RefusalReason) => {
      this.#counters.refused(why);
      origin.deliverResponse(uid, Math.max(tracking, 0), ResponseCode.NOT_FOUND, EMPTY_PAYLOAD, why);
    };
    this.#inOrder(uid, async () => {
      // Requests queued behind the one that looked the route up take it from the cache.
      const cached = this.#route(uid);
      if (cached !== undefined && hops < MAX_HOPS) return this.#sendRequest(cached, uid, tracking, payload, origin, timeoutMs, hops);
      let e = await this.#lookup(uid);
      if (e === 'unavailable') return answer('cluster-unavailable');
      if (!e || hops >= MAX_HOPS) return answer('no-session');
      if (e.state === 'connected' && e.node !== this.node) {
        this.#routes.set(uid, { node: e.node, at: this.#clock.now() });
        return this.#sendRequest(e.node, uid, tracking, payload, origin, timeoutMs, hops);
      }
      if (e.state === 'connected') {
        if (await this.#whenAttached(uid)) return void this.#router!.centralRequest(uid, tracking, payload, origin, timeoutMs);
        e = await this.#keepStale(e);
        if (e === 'unavailable') return answer('cluster-unavailable');
      }
      // Kept somewhere in the fleet: tracked here, and buffered for whichever node resumes it.
      this.#router!.trackCentralRequest(uid, tracking, payload, origin, timeoutMs);
    });
  }

  response(dir: 'down' | 'up', uid: string, tracking: number, code: number, payload: Payload): boolean {
    const k = refKey(dir, uid, tracking);
    const f = this.#forwarded.get(k);
    if (!f) return false;
    this.#forwarded.delete(k);
    if (f.node !== '') this.post(f.node, { kind: 'tracker-response', dir, uid, tracking, code, payload });
    // Its tracker died (a kept session outlived it): the answer goes to the party on the other side.
    else if (dir === 'down') this.#sessions.deliver(CENTRAL_UID, { type: ToT.RESPONSE, uid, tracking, code, payload });
    else this.#sessions.deliver(uid, { type: ToT.RESPONSE, tracking, code, payload });
    return true;
  }

  /** An ACL change removed `uid`: a session kept anywhere in the fleet ends too (connected ones end at their node's own reload). */
  revoke(uid: string): void {
    this.#inOrder(uid, async () => {
      const e = await this.#lookup(uid);
      if (e === 'unavailable' || !e || e.state !== 'kept') return;
      if (await this.#e.directory.end(uid, e.claim)) await this.#answerBuffered(uid, 'session-ended');
    });
  }

  /** Ends `uid`'s session wherever it is in the fleet (the admin API): false when there is none. Rejects when the engine is away. */
  async endAnywhere(uid: string): Promise<boolean> {
    const e = await this.#e.directory.lookup(uid);
    if (!e) return false;
    if (e.state === 'connected' && e.node !== this.node) {
      this.post(e.node, { kind: 'end-session', uid, code: CloseCode.MAINTENANCE, reason: 'admin' });
      return true;
    }
    const s = this.#sessions.get(uid);
    if (s) {
      this.#sessions.end(s, 'admin', CloseCode.MAINTENANCE);
      return true;
    }
    if (await this.#e.directory.end(uid, e.claim)) {
      await this.#answerBuffered(uid, 'session-ended');
      this.#sessions.events.ended({ uid, kind: e.kind, peer: e.peer, tls: e.tls }, 'admin');
    }
    return true;
  }

  /**
   * Hands a message to another node's inbox. `lost`: it could not be handed over. A message whose
   * sender must hear of its loss (a request on its way) is refused while the engine is away, even
   * when a direct link could carry it: without the directory no node can prove it still holds the
   * session (CLUSTER.md guarantee 8: cross-node requests are answered at once, 0xA0 / HTTP 503).
   */
  post<M extends NodeMessage>(node: string, m: M, lost?: (m: M, node: string) => void): void {
    this.#post(node, m, lost, encodeNodeMessageInto);
  }

  /** An origin-response (RemoteOrigin's, one per cross-node request), with its kind's own encoder. */
  postOriginResponse(node: string, m: Extract<NodeMessage, { kind: 'origin-response' }>): void {
    this.#post(node, m, undefined, encodeOriginResponseInto);
  }

  /** The count of `kind`'s messages going `way`. */
  #count(kind: NodeMessage['kind'], way: 'in' | 'out'): { n: number } {
    return (this.#counts[way][kind] ??= this.#counters.messageCount(kind, way));
  }

  /** `encode`: the message kind's own encoder, or the general one. */
  #post<M extends NodeMessage>(node: string, m: M, lost: ((m: M, node: string) => void) | undefined, encode: MessageEncoderFor<M>): void {
    if (this.#abandoned) return;
    if (lost && this.#e.reachability === 'unreachable') return lost(m, node);
    this.#count(m.kind, 'out').n++;
    const inbox = this.#e.inbox;
    const version = this.#nodes.versionFor(node);
    // Written straight into the link's frame where the inbox builds one (no Buffer per message);
    // `lost` is called with the message, so the hot paths pass one function, not a closure each.
    if (inbox.postEncoded) inbox.postEncoded<M>(node, encode, m, version, lost);
    else inbox.post(node, encodeNodeMessage(m, version), lost && (() => lost(m, node)));
  }

  // ---- routing to sessions not connected here ----

  #offer(uid: string, t: Transmission, tracked: Tracked | undefined, noSession?: () => void, noSessionWhenKept = false): void {
    const route = this.#chains.has(uid) ? undefined : this.#route(uid);
    if (route !== undefined) return this.#send(route, uid, t, tracked, 0);
    this.#inOrder(uid, () => this.#routeTo(uid, t, tracked, 0, noSession, noSessionWhenKept));
  }

  /** The node holding `uid`'s connection, as last looked up, while that is recent enough to trust (`at`: now, or the read time of what asks). */
  #route(uid: string, at?: number): string | undefined {
    const r = this.#routes.get(uid);
    return r && (at ?? this.#clock.now()) - r.at < ROUTE_TTL_MS ? r.node : undefined;
  }

  async #routeTo(uid: string, t: Transmission, tracked: Tracked | undefined, hops: number, noSession?: () => void, noSessionWhenKept = false): Promise<void> {
    // A first try takes a route another message just looked up; a message routed on (hops > 0) looks again.
    const cached = hops === 0 ? this.#route(uid) : undefined;
    if (cached !== undefined) return this.#send(cached, uid, t, tracked, hops);
    let e = await this.#lookup(uid);
    if (e === 'unavailable') return this.#refuse(uid, t, tracked, 'cluster-unavailable');
    if (!e || hops >= MAX_HOPS || (noSessionWhenKept && e.state === 'kept')) return noSession ? noSession() : this.#refuse(uid, t, tracked, 'no-session');
    if (e.state === 'connected' && e.node !== this.node) {
      this.#routes.set(uid, { node: e.node, at: this.#clock.now() });
      return this.#send(e.node, uid, t, tracked, hops);
    }
    if (e.state === 'connected') {
      if (await this.#whenAttached(uid)) return this.#deliverHere(uid, t, tracked, hops);
      e = await this.#keepStale(e);
      if (e === 'unavailable') return this.#refuse(uid, t, tracked, 'cluster-unavailable');
    }
    const bytes = encodeTransmission(t);
    if (e.maxTransmissionLength > 0 && bytes.length > e.maxTransmissionLength) return this.#refuse(uid, t, tracked, 'too-large');
    const share = t.type === ToT.TELEMETRY ? TELEMETRY_SHARE : 1;
    const b = this.#opts.buffers;
    const bounds = {
      maxCount: Math.floor(b.maxPerSession * share), maxBytes: Math.floor(b.maxBytesPerSession * share),
      ttlMs: Math.max(0, e.keptUntil - this.#clock.epochMs()) + BUFFER_TTL_MARGIN_MS,
    };
    const ref = tracked?.ref;
    const entry: BufferedEntry = ref
      ? { bytes, request: { dir: ref.dir, tracking: ref.tracking, node: ref.node, run: ref.run, expiresAt: ref.expiresAt, ...(uid === CENTRAL_UID && { uid: ref.uid }) } }
      : { bytes };
    let refusal;
    try {
      refusal = await this.#e.buffers.append(uid, entry, bounds, e.claim);
    } catch {
      return this.#refuse(uid, t, tracked, 'cluster-unavailable');
    }
    // Resumed, taken or ended since the lookup: route it again, to wherever it is now.
    if (refusal === 'not-kept') return this.#routeTo(uid, t, tracked, hops + 1, noSession, noSessionWhenKept);
    if (refusal) return this.#refuse(uid, t, tracked, refusal);
    if (ref) tracked!.buffered(uid, () => this.#unbuffer(uid, ref));
  }

  /** The session is (again) connected here: the session manager delivers, or the fleet once more if it left meanwhile. */
  #deliverHere(uid: string, t: Transmission, tracked: Tracked | undefined, hops: number): void {
    const s = this.#sessions.get(uid);
    if (!s?.link) return void this.#inOrder(uid, () => this.#routeTo(uid, t, tracked, hops + 1));
    const max = s.maxTransmissionLength;
    const bytes = encodeTransmission(t);
    if (max > 0 && bytes.length > max) return this.#refuse(uid, t, tracked, 'too-large');
    if (tracked && tracked.ref.node !== this.node) this.#remember(tracked.ref);
    s.link.sendBytes(bytes);
  }

  #send(node: string, uid: string, t: Transmission, tracked: Tracked | undefined, hops: number): void {
    const m: NodeMessage = tracked
      ? { kind: 'deliver', session: uid, hops, ref: tracked.ref, bytes: encodeTransmission(t) }
      : { kind: 'deliver', session: uid, hops, bytes: encodeTransmission(t) };
    this.post(node, m, () => {
      this.#forgetRoute(uid, node);
      this.#refuse(uid, t, tracked, this.#lostWhy());
    });
  }

  /** Why a message could not be handed over: Redis is away, or (a direct link) the node cannot be reached: it stopped or died. */
  #lostWhy(): 'cluster-unavailable' | 'node-lost' {
    return this.#e.reachability === 'unreachable' ? 'cluster-unavailable' : 'node-lost';
  }

  /** `node` could not be reached: what follows for `uid` looks the directory up again (the node may be gone, the session moved). */
  #forgetRoute(uid: string, node: string): void {
    if (this.#routes.get(uid)?.node === node) this.#routes.delete(uid);
  }

  /** `at`: when the request was read, when it is being handled in that read (no clock read per request); else now. */
  #sendRequest(node: string, uid: string, tracking: number, payload: Payload, origin: ResponseTarget, timeoutMs: number, hops: number, at?: number): void {
    const id = ++this.#seq >>> 0;
    // No timer per request: one sweep (BACKSTOP_SWEEP_MS) answers the waits past their deadline.
    this.#waits.add(id, origin, node, uid, tracking, (at ?? this.#clock.now()) + timeoutMs + this.#opts.backstopGraceMs);
    // The deadline by this node's wall clock (as a deliver's TrackRef): the receiver compares it with
    // its own, so nodes keep their clocks close (NTP); a node speaking only 1 gets timeoutMs alone.
    const expiresAt = this.#clock.epochMs() + timeoutMs;
    this.#post(node, { kind: 'central-request', uid, tracking, timeoutMs, origin: this.node, id, hops: hops + 1, payload, expiresAt }, this.#requestLost, encodeCentralRequestInto);
  }

  /** A central-request that could not be handed to `node`: its origin is answered now. One function for every request. */
  readonly #requestLost = (m: Extract<NodeMessage, { kind: 'central-request' }>, node: string): void => {
    this.#forgetRoute(m.uid, node);
    this.#settleWait(m.id, ResponseCode.NOT_FOUND, this.#lostWhy());
  };

  #settleWait(id: number, code: number, reason: GeneratedReason): void {
    const w = this.#waits.take(id);
    if (!w) return;
    if (reason !== 'timeout') this.#counters.refused(reason as RefusalReason);
    w.origin.deliverResponse(w.uid, Math.max(w.tracking, 0), code, EMPTY_PAYLOAD, reason);
  }

  #refuse(uid: string, t: Transmission, tracked: Tracked | undefined, why: RefusalReason): void {
    if (tracked) return tracked.refuse(why);
    this.#sessions.events.dropped(uid, why === 'not-kept' || why === 'in-progress' ? 'no-session' : (why as 'no-session'), t.type);
  }

  /** An answered request leaves the kept buffer; while the engine is away the removal is tried again each sweep. */
  #unbuffer(session: string, ref: TrackRef): void {
    const remove = () => this.#e.buffers.remove(session, ref.dir, ref.tracking, session === CENTRAL_UID ? ref.uid : undefined);
    remove().catch(() => this.#retries.push(remove));
  }

  #localTracked(p: PendingRequest): Tracked {
    const expiresAt = this.#clock.epochMs() + (p.deadline - this.#clock.now());
    return {
      ref: { dir: p.dir, uid: p.uid, tracking: p.tracking, node: this.node, run: this.#e.registry.incarnation, expiresAt },
      refuse: (why) => {
        this.#counters.refused(why);
        this.#tracker.fail(p, ResponseCode.NOT_FOUND, why);
      },
      buffered: (_session, remove) => {
        if (p.settled) return remove(); // answered (timeout) while the append was on its way
        p.unbuffer = remove;
      },
    };
  }

  /** A request tracked on another node: a refusal goes back to it. */
  #remoteTracked(ref: TrackRef): Tracked {
    return {
      ref,
      refuse: (why) => this.post(ref.node, { kind: 'tracker-fail', dir: ref.dir, uid: ref.uid, tracking: ref.tracking, reason: why }),
      // Its tracker takes it out of the buffer once answered (PROTOCOL §6: never delivered late).
      buffered: (session) => this.post(ref.node, { kind: 'buffered', session, dir: ref.dir, uid: ref.uid, tracking: ref.tracking }),
    };
  }

  #trackedFor(ref: TrackRef): Tracked | undefined {
    if (ref.node !== this.node) return this.#remoteTracked(ref);
    const p = this.#tracker.pending(ref.dir, ref.uid, ref.tracking);
    return p && this.#localTracked(p);
  }

  #remember(ref: TrackRef, orphan = false): void {
    this.#forwarded.set(refKey(ref.dir, ref.uid, ref.tracking), { node: orphan ? '' : ref.node, at: this.#clock.now() });
  }

  // ---- the inbox ----

  #onBatch(batch: Buffer[]): void {
    this.#readAt = this.#clock.now();
    this.#readEpoch = this.#clock.epochMs();
    for (const bytes of batch) this.#onMessage(bytes, 0, bytes.length);
  }

  /** One message, at buf[start, end). */
  readonly #onMessage = (buf: Buffer, start: number, end: number): void => {
    let m: NodeMessage;
    try {
      m = decodeNodeMessage(buf, start, end);
    } catch (err) {
      // Never misread: another version (a rolling upgrade gone wrong) or a torn message is logged and left.
      if (this.#unreadable++ % 1000 === 0) this.#log.error({ event: 'node-message-unreadable', err: err instanceof NodeMessageError ? err.message : String(err), count: this.#unreadable }, 'a node message could not be read: dropped');
      return;
    }
    this.#count(m.kind, 'in').n++;
    try {
      this.#handle(m);
    } catch (err) {
      this.#log.error({ event: 'node-message-failed', kind: m.kind, err: String(err) }, 'a node message could not be handled');
    }
  };

  /** A request read past its deadline (an inbox read late: a Redis stall, a slow link): counted, logged (the first of each 1000). */
  #dropExpired(kind: 'deliver' | 'central-request', uid: string, expiresAt: number): void {
    this.#counters.expired?.(kind);
    if (this.#expired++ % 1000 === 0) {
      this.#log.warn({ event: 'node-message-expired', kind, uid, lateMs: Math.round(this.#clock.epochMs() - expiresAt), count: this.#expired },
        'a request read after its deadline (its origin was answered 0xA1): dropped, never delivered late');
    }
  }

  #handle(m: NodeMessage): void {
    switch (m.kind) {
      case 'deliver': {
        // Its origin was answered 0xA1 (a post held up in an engine that was away): never delivered late (PROTOCOL §6).
        if (m.ref && m.ref.expiresAt <= this.#clock.epochMs()) return this.#dropExpired(m.kind, m.session, m.ref.expiresAt);
        const s = this.#sessions.get(m.session);
        if (s?.link && !this.#attaching.has(m.session) && !this.#chains.has(m.session)) {
          if (m.ref && m.ref.node !== this.node) this.#remember(m.ref);
          if (s.maxTransmissionLength > 0 && m.bytes.length > s.maxTransmissionLength) {
            return this.#refuse(m.session, decodeTransmissions(m.bytes)[0]!, m.ref && this.#trackedFor(m.ref), 'too-large');
          }
          return s.link.sendBytes(m.bytes);
        }
        // Not connected here (any more): routed as if it arrived after that connection closed.
        const t = decodeTransmissions(m.bytes)[0]!;
        const tracked = m.ref && this.#trackedFor(m.ref);
        if (m.ref && !tracked) return; // answered meanwhile: never delivered late
        return this.#inOrder(m.session, () => this.#routeTo(m.session, t, tracked, m.hops + 1));
      }
      case 'takeover': {
        const s = this.#sessions.get(m.uid);
        if (!s || s.claim !== m.claim) return;
        this.#log.info({ event: 'session-taken-over', uid: m.uid, kind: s.kind, from: s.peer, to: 'another node' }, 'session taken over on another node');
        this.#counters.takeover?.('out');
        return this.#sessions.release(s);
      }
      case 'central-request': {
        let timeoutMs = m.timeoutMs;
        if (m.expiresAt !== undefined) {
          // Read after its origin's wait gave up (0xA1): never handed to the object. Read in time,
          // it is tracked here until that deadline only, not a whole timeout from now.
          const left = m.expiresAt - this.#readEpoch;
          if (left <= 0) return this.#dropExpired(m.kind, m.uid, m.expiresAt);
          timeoutMs = Math.min(timeoutMs, Math.ceil(left));
        }
        return void this.#router!.centralRequest(m.uid, m.tracking, m.payload, new RemoteOrigin(this, m.origin, m.id, m.hops), timeoutMs, this.#readAt);
      }
      case 'origin-response': {
        const origin = this.#waits.takeOrigin(m.id);
        if (!origin) return;
        return origin.deliverResponse(m.uid, m.tracking, m.code, m.payload, (m.reason || undefined) as GeneratedReason | undefined);
      }
      case 'tracker-response':
        if (!this.#tracker.complete(m.dir, m.uid, m.tracking, m.code, m.payload)) this.#counters.lateResponse(m.dir, m.uid, m.tracking);
        return;
      case 'tracker-fail': {
        const p = this.#tracker.pending(m.dir, m.uid, m.tracking);
        if (p) this.#tracker.fail(p, ResponseCode.NOT_FOUND, m.reason as GeneratedReason);
        return;
      }
      case 'moved':
        this.#routes.delete(m.uid);
        return this.#verifyHeld(m.uid);
      case 'buffered': {
        const p = this.#tracker.pending(m.dir, m.uid, m.tracking);
        const ref = { dir: m.dir, uid: m.uid, tracking: m.tracking, node: this.node, run: '', expiresAt: 0 };
        if (!p) return this.#unbuffer(m.session, ref); // answered before it was buffered
        p.unbuffer = () => this.#unbuffer(m.session, ref);
        return;
      }
      case 'end-session': {
        const s = this.#sessions.get(m.uid);
        if (s) this.#sessions.end(s, m.reason === 'revoked' ? 'revoked' : 'admin', m.code);
        return;
      }
    }
  }

  // ---- kept sessions, their buffers, dead nodes ----

  /**
   * #replayable, after reading the live nodes again when an entry names a tracker on a node the
   * last tick did not list: it may have joined since (a restart), and a tracker taken for dead
   * would have its answer sent to the other party instead of to it.
   */
  async #replay(uid: string, entries: BufferedEntry[], max: number): Promise<Buffer[]> {
    if (entries.some((e) => e.request && e.request.node !== this.node && !this.#nodes.ids.has(e.request.node))) {
      try {
        this.#nodes.update(await this.#e.registry.live());
      } catch {
        // Redis away: the last tick's list decides.
      }
    }
    return this.#replayable(uid, entries, max);
  }

  /** What a claim found buffered, ready to write in order: answered requests and those of dead trackers left out. */
  #replayable(uid: string, entries: BufferedEntry[], max: number): Buffer[] {
    const out: Buffer[] = [];
    for (const e of entries) {
      const tooLarge = max > 0 && e.bytes.length > max;
      if (!e.request) {
        if (tooLarge) this.#sessions.events.dropped(uid, 'too-large', e.bytes[0]! >> 4);
        else out.push(e.bytes);
        continue;
      }
      const q = e.request;
      const ref: TrackRef = { dir: q.dir, uid: q.uid ?? uid, tracking: q.tracking, node: q.node, run: q.run ?? '', expiresAt: q.expiresAt ?? Infinity };
      if (ref.expiresAt <= this.#clock.epochMs()) continue; // its origin was answered 0xA1: never delivered late
      const ours = ref.node === this.node && ref.run === this.#e.registry.incarnation;
      if (ours) {
        const p = this.#tracker.pending(ref.dir, ref.uid, ref.tracking);
        if (!p) continue; // answered already
        p.unbuffer = undefined;
      }
      if (tooLarge) {
        this.#failTracked(ref, 'too-large');
        continue;
      }
      // A tracker that is gone (its node died, or this node's previous run): delivered anyway, the answer to the other party.
      if (!ours) this.#remember(ref, ref.node === this.node || !this.#nodes.ids.has(ref.node));
      out.push(e.bytes);
    }
    return out;
  }

  async #answerBuffered(uid: string, reason: 'session-ended'): Promise<void> {
    for (const e of await this.#e.buffers.take(uid)) {
      const q = e.request;
      if (q) this.#failTracked({ dir: q.dir, uid: q.uid ?? uid, tracking: q.tracking, node: q.node, run: q.run ?? '', expiresAt: q.expiresAt ?? Infinity }, reason);
    }
  }

  #failTracked(ref: TrackRef, reason: GeneratedReason): void {
    if (ref.node !== this.node) return this.post(ref.node, { kind: 'tracker-fail', dir: ref.dir, uid: ref.uid, tracking: ref.tracking, reason });
    const p = this.#tracker.pending(ref.dir, ref.uid, ref.tracking);
    if (p) this.#tracker.fail(p, ResponseCode.NOT_FOUND, reason);
  }

  /** An entry says connected here, but no connection is: a keep that did not reach the engine. Kept now. */
  async #keepStale(e: DirectoryEntry): Promise<DirectoryEntry | 'unavailable'> {
    const now = this.#clock.epochMs();
    const keptUntil = now + this.#opts.keepSessionMs;
    try {
      await this.#e.directory.keep(e.uid, e.claim, keptUntil, now);
    } catch {
      return 'unavailable';
    }
    return { ...e, state: 'kept', keptUntil, since: now };
  }

  /** True once a claim under way here has attached the session; false when none is under way. */
  #whenAttached(uid: string): Promise<boolean> {
    const a = this.#attaching.get(uid);
    if (!a) return Promise.resolve(this.#sessions.get(uid)?.link !== undefined);
    return new Promise((resolve) => a.waiters.push(() => resolve(this.#sessions.get(uid)?.link !== undefined)));
  }

  async #lookup(uid: string): Promise<DirectoryEntry | undefined | 'unavailable'> {
    try {
      return await this.#e.directory.lookup(uid);
    } catch {
      return 'unavailable';
    }
  }

  /**
   * After a lapse (others may have reaped this node meanwhile): a session still ours stays; one
   * another connection claimed leaves (0xA1); one reaped into a kept entry, or gone, is claimed
   * again for the connection still here, and what was buffered meanwhile is written to it.
   */
  async #reconcile(): Promise<void> {
    for (const s of [...this.#sessions.store.values()]) {
      const link = s.link;
      if (!link) continue;
      const e = await this.#e.directory.lookup(s.uid);
      if (e?.claim === s.claim && e.state === 'connected') continue;
      if (e && e.claim !== s.claim) {
        this.#sessions.release(s);
        continue;
      }
      const info = { kind: s.kind, group: s.group, peer: s.peer, tls: s.tls, maxTransmissionLength: s.maxTransmissionLength };
      const { claim } = await this.#e.directory.claim(s.uid, info, this.#clock.epochMs());
      s.claim = claim;
      for (const bytes of await this.#replay(s.uid, await this.#e.buffers.take(s.uid), s.maxTransmissionLength)) link.sendBytes(bytes);
    }
  }

  /**
   * Two live processes with one node id would steal each other's sessions. A lease of this id
   * still current is a previous run killed moments ago (it lapses within leaseSec) or another
   * process using the id (it is renewed): wait for the first, refuse the second.
   */
  async ensureIdFree(): Promise<void> {
    const leaseMs = this.#opts.leaseMs;
    const deadline = this.#clock.now() + leaseMs + this.#opts.heartbeatMs;
    let warned = false;
    while ((await this.#e.registry.live()).some((n) => n.node === this.node)) {
      if (this.#clock.now() > deadline) throw new Error(`cluster.nodeId ${JSON.stringify(this.node)} is in use by a live node: give each node its own id`);
      if (!warned) this.#log.warn({ event: 'node-id-lease-held', node: this.node }, `a lease for node id ${this.node} is still current (a previous run?): waiting up to ${Math.ceil(leaseMs / 1000)} s for it to lapse`);
      warned = true;
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, 200));
    }
  }

  /** A node restarted with the same id: what its previous run held connected is kept, so those devices resume anywhere. */
  async #adoptPreviousRun(): Promise<void> {
    const held = await this.#e.directory.heldBy(this.node);
    const now = this.#clock.epochMs();
    for (const e of held) await this.#e.directory.keep(e.uid, e.claim, now + this.#opts.keepSessionMs, now);
    if (held.length) this.#log.info({ event: 'previous-run-adopted', node: this.node, sessions: held.length }, `kept ${held.length} sessions of this node's previous run`);
  }

  async #sweep(): Promise<void> {
    const retry = this.#retries;
    this.#retries = [];
    for (const write of retry) await write().catch(() => this.#retries.push(write));
    const now = this.#clock.epochMs();
    for (const e of await this.#e.directory.expired(now, SWEEP_BATCH)) {
      // Every node sweeps; end() hands the entry to exactly one of them, which answers its buffer.
      if (!(await this.#e.directory.end(e.uid, e.claim))) continue;
      await this.#answerBuffered(e.uid, 'session-ended');
      this.#sessions.events.ended({ uid: e.uid, kind: e.kind, peer: e.peer, tls: e.tls }, 'expired');
    }
    const old = this.#clock.now() - this.#opts.forwardTtlMs;
    for (const [k, f] of this.#forwarded) if (f.at < old) this.#forwarded.delete(k);
    const stale = this.#clock.now() - ROUTE_TTL_MS;
    for (const [k, r] of this.#routes) if (r.at < stale) this.#routes.delete(k);
  }

  async #watchNodes(): Promise<void> {
    const registry = this.#e.registry;
    registry.setSessions(this.#sessions.store.size);
    if (registry.state !== 'live') return;
    this.#nodes.update(await registry.live());
    // A node that left (a graceful stop) is in neither list: routes to it go, its sessions are kept or elsewhere.
    for (const [uid, r] of this.#routes) if (!this.#nodes.ids.has(r.node)) this.#routes.delete(uid);
    const dead = await registry.dead();
    const now = new Set(dead.map((d) => d.node));
    for (const node of now) {
      if (this.#dead.has(node)) continue;
      // Its tracker died with it: what waits here for its answers is answered now, once.
      for (const id of this.#waits.waitingFor(node)) this.#settleWait(id, ResponseCode.NOT_FOUND, 'node-lost');
      for (const [uid, r] of this.#routes) if (r.node === node) this.#routes.delete(uid); // its sessions are about to move
      this.#log.warn({ event: 'node-lost', node }, `node ${node} stopped renewing its lease`);
    }
    this.#dead = now;
    for (const d of dead) {
      if (!(await registry.reap(d))) continue;
      // A run of that id live again (a restart, or a renewal after a lapse) takes up its entries
      // itself (adoptPreviousRun, reconcile): keeping them here would strand its live connections.
      const again = (await registry.live()).some((n) => n.node === d.node);
      const held = again ? [] : await this.#e.directory.heldBy(d.node);
      const at = this.#clock.epochMs();
      for (const e of held) await this.#e.directory.keep(e.uid, e.claim, at + this.#opts.keepSessionMs, at);
      await registry.forget(d);
      if (!again) await this.#e.inbox.drop(d.node);
      this.#log.warn({ event: 'node-reaped', node: d.node, sessions: held.length }, `reaped node ${d.node}: its ${held.length} sessions are kept for their devices to resume on any node`);
    }
  }

  /** Runs `fn` every `ms` after the previous run ended (never two at once). */
  #every(name: string, ms: number, fn: () => Promise<void>): void {
    const tick = () => {
      if (this.#stopped) return;
      fn().catch((err: unknown) => this.#log.debug({ event: 'fleet-tick-failed', tick: name, err: String(err) }, 'cluster housekeeping failed; retried next tick'))
        .finally(() => { if (!this.#stopped) this.#timers.set(name, this.#clock.setTimeout(tick, ms)); });
    };
    this.#timers.set(name, this.#clock.setTimeout(tick, ms));
  }

  #inOrder(uid: string, fn: () => Promise<void> | void): void {
    if (this.#abandoned) return;
    const prev = this.#chains.get(uid);
    const p: Promise<void> = (prev ? prev.then(fn) : Promise.resolve().then(fn)).catch((err: unknown) => {
      this.#log.error({ event: 'fleet-operation-failed', uid, err: String(err) }, 'a cluster operation failed');
    });
    this.#chains.set(uid, p);
    void p.then(() => { if (this.#chains.get(uid) === p) this.#chains.delete(uid); });
  }
}

/** A claim's failure as the handshake logs it: what failed, in words an operator can act on. */
function claimRefused(err: unknown): ClaimRefusedError {
  const cause = err instanceof ClaimOutcomeUnknown ? err.failure : err;
  const msg = cause instanceof Error ? cause.message : String(cause);
  const why = redisFailureCause(cause);
  const what = why === 'redis-error' ? 'Redis refused the session claim'
    : why === 'command-timeout' ? 'the session claim timed out (Redis did not answer within cluster.commandTimeoutMs)'
      : 'Redis unreachable for the session claim';
  return new ClaimRefusedError(why, `${what}: ${msg}`);
}

function refKey(dir: 'down' | 'up', uid: string, tracking: number): string {
  return `${dir} ${tracking} ${uid}`;
}
