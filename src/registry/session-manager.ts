import type { Clock } from '../clock.js';
import { CloseCode, ToT, encodeTransmission, transmissionLength, type Transmission } from '../protocol/index.js';
import { BufferBudget, OfflineBuffer, type BufferRefusal, type BufferedItem, type BufferedRequest } from './offline-buffer.js';
import { MemorySessionStore, Session, type SessionKind, type SessionLink, type SessionStore } from './session.js';

export type EndReason = 'closed' | 'expired' | 'revoked' | 'admin' | 'shutdown' | 'protocol-error';

/** What an event reports of a session (a cluster's expiry sweep ends sessions it holds no object for). */
export type SessionView = Pick<Session, 'uid' | 'kind' | 'peer' | 'tls'>;

export interface SessionEvents {
  started(s: Session): void;
  resumed(s: Session, replayed: number): void;
  /** A newer connection authenticated with the UID of a connected session (PROTOCOL §3 step 7). */
  takenOver(s: Session, from: string, to: string): void;
  kept(s: Session, reason: string): void;
  ended(s: SessionView, reason: EndReason): void;
  /** A transmission with no origin to answer (a response, telemetry) that could not be delivered; `type`: its ToT. */
  dropped(uid: string, why: BufferRefusal | 'no-session' | 'too-large' | 'cluster-unavailable', type: number): void;
}

/** The part of a kept session's buffer bounds that telemetry may fill. */
const TELEMETRY_SHARE = 0.5;

/** What became of a transmission addressed to a session. 'forwarded': handed to the fleet (SharedSessions), which settles it. */
export type Delivery = 'sent' | 'buffered' | 'forwarded' | 'no-session' | 'too-large' | BufferRefusal;

/** What a claim records of the connection: the directory shows it, and replays are cut to its maximum. */
export type SharedLinkInfo = Pick<SessionLink, 'peer' | 'tls' | 'maxTransmissionLength'>;

/** What the fleet's claim of a UID found: who held it, and what was buffered for it, ready to write in order. */
export interface SharedClaim {
  readonly claim: string;
  readonly previous?: { readonly node: string; readonly state: 'connected' | 'kept'; readonly peer: string };
  readonly replay: readonly Buffer[];
}

/** Why a cluster node refused a session claim: what an operator needs to read in the log. */
export type ClaimRefusal = 'command-timeout' | 'redis-unreachable' | 'redis-error' | 'lease-lapsed' | 'not-live';

/** A claim refused by the fleet (the handshake is then refused, reason `cluster-unavailable`); `why` says what failed. */
export class ClaimRefusedError extends Error {
  constructor(readonly why: ClaimRefusal, message: string) {
    super(message);
  }
}

/**
 * A cluster's side of session life (CLUSTER.md guarantees 3–4): the fleet's directory holds who
 * has each UID, kept sessions and their buffers live in the shared engine, and what is addressed
 * to a UID not connected here goes through the fleet. Locally a cluster node holds only its
 * connected sessions.
 */
export interface SharedSessions {
  /** This node's id. */
  readonly node: string;
  /** Takes the UID fleet-wide for a connection (one elsewhere is told to close 0xA1). Rejects (ClaimRefusedError) when the engine is away or this node not live. */
  claim(uid: string, kind: SessionKind, group: string, link: SharedLinkInfo): Promise<SharedClaim>;
  /** The connection of `s` is gone: the session is kept fleet-wide for `keepMs`. */
  keep(s: Session, keepMs: number): void;
  /** The session ends fleet-wide; what was buffered for it is answered 0xA0. */
  end(s: SessionView & { readonly claim: string }): void;
  /** A transmission for a UID not connected here: the fleet delivers it, buffers it, or refuses it (a request's origin answered, anything else counted dropped). */
  offer(uid: string, t: Transmission, request?: BufferedRequest): void;
}

export interface SessionManagerOptions {
  readonly keepSessionMs: number;
  readonly buffers: { readonly maxPerSession: number; readonly maxBytesPerSession: number; readonly maxTotalBytes: number };
}

/** Session lifecycle (PROTOCOL §3 step 7, §6): start, take over, keep, resume, expire, end. */
export class SessionManager {
  readonly store: SessionStore;
  readonly budget: BufferBudget;
  readonly #clock: Clock;
  readonly #opts: SessionManagerOptions;
  readonly #events: SessionEvents;
  #shared: SharedSessions | undefined;
  /** Every session's buffer factory (Session makes its buffer at first use). */
  readonly #newBuffer: () => OfflineBuffer;

  constructor(clock: Clock, opts: SessionManagerOptions, events: SessionEvents, store: SessionStore = new MemorySessionStore()) {
    this.#clock = clock;
    this.#opts = opts;
    this.#events = events;
    this.store = store;
    this.budget = new BufferBudget(opts.buffers.maxTotalBytes);
    const b = opts.buffers;
    this.#newBuffer = () => new OfflineBuffer(b.maxPerSession, b.maxBytesPerSession, this.budget);
  }

  /** Makes this node one of a cluster's: before any connection (the daemon's wiring). */
  share(shared: SharedSessions): void {
    this.#shared = shared;
  }

  /** Set in a cluster. */
  get shared(): SharedSessions | undefined {
    return this.#shared;
  }

  get events(): SessionEvents {
    return this.#events;
  }

  get(uid: string): Session | undefined {
    return this.store.get(uid);
  }

  /** In a cluster: takes the UID fleet-wide for a connection about to be accepted (attach follows with the result). */
  claim(uid: string, kind: SessionKind, group: string, link: SharedLinkInfo): Promise<SharedClaim> | undefined {
    return this.#shared?.claim(uid, kind, group, link);
  }

  /**
   * Binds an authenticated connection to its UID's session: a new one, the kept one
   * (buffer replayed in order), or the connected one (the older connection is closed).
   * In a cluster, `c` is what its claim found (a session kept or connected on another node).
   */
  attach(uid: string, kind: SessionKind, group: string, link: SessionLink, c?: SharedClaim): Session {
    if (this.#shared && !c) throw new Error(`session ${JSON.stringify(uid)}: a cluster node attaches only what it claimed`);
    const existing = this.store.get(uid);
    if (!existing) {
      const s = new Session(uid, kind, group, link, this.#newBuffer, this.#clock.now());
      if (c) s.claim = c.claim;
      this.store.set(s);
      // In a cluster the session may go on from another node: taken over there, or kept and resumed here.
      const prev = c?.previous;
      if (prev?.state === 'connected') this.#events.takenOver(s, `${prev.peer} on ${prev.node}`, link.peer);
      else if (prev) {
        for (const bytes of c!.replay) link.sendBytes(bytes);
        this.#events.resumed(s, c!.replay.length);
      } else this.#events.started(s);
      return s;
    }
    if (c) existing.claim = c.claim;
    const old = existing.link;
    const oldPeer = existing.peer;
    this.#clock.clearTimeout(existing.keptTimer);
    existing.keptTimer = undefined;
    existing.state = 'connected';
    existing.link = link;
    existing.group = group;
    existing.since = this.#clock.now();
    existing.maxTransmissionLength = link.maxTransmissionLength;
    existing.peer = link.peer;
    existing.tls = link.tls;
    // Takeover (PROTOCOL §3 step 7): the newer connection wins; the session goes on with it.
    const takenOver = old !== undefined && old !== link;
    if (takenOver) old.close(CloseCode.FREEING_RESOURCES, 'taken-over', true);
    let replayed = this.#replay(existing, link);
    if (c) for (const bytes of c.replay) (link.sendBytes(bytes), replayed++);
    if (takenOver) this.#events.takenOver(existing, oldPeer, link.peer);
    else this.#events.resumed(existing, replayed);
    return existing;
  }

  /** The kept buffer, in order; what exceeds the new connection's maximum (PROTOCOL §3) is never written. */
  #replay(s: Session, link: SessionLink): number {
    const max = link.maxTransmissionLength;
    let n = 0;
    const items = s.bufferIfMade?.drain();
    if (!items) return 0;
    for (const item of items) {
      if (max > 0 && item.bytes.length > max) this.#tooLargeToReplay(s.uid, item);
      else {
        link.sendBytes(item.bytes);
        n++;
      }
    }
    return n;
  }

  #tooLargeToReplay(uid: string, item: BufferedItem): void {
    if (item.request) item.request.discard('too-large'); // its origin gets 0xA0
    else this.#events.dropped(uid, 'too-large', item.bytes[0]! >> 4);
  }

  /** The connection `link` is gone. Keep the session (unexpected drop, Close 0xA0/0xA1) or end it. */
  detach(s: Session, link: SessionLink, keep: boolean, reason: string): void {
    if (s.link !== link || s.state !== 'connected') return; // an older, replaced connection
    s.link = undefined;
    if (!keep || this.#opts.keepSessionMs <= 0) return this.end(s, 'closed');
    if (this.#shared) {
      // Kept fleet-wide: any node may resume it; this node holds connected sessions only.
      s.state = 'kept';
      this.#clock.clearTimeout(s.tokenTimer);
      if (this.store.get(s.uid) === s) this.store.delete(s.uid);
      this.#shared.keep(s, this.#opts.keepSessionMs);
      this.#events.kept(s, reason);
      return;
    }
    s.state = 'kept';
    s.since = this.#clock.now();
    s.keptTimer = this.#clock.setTimeout(() => this.end(s, 'expired'), this.#opts.keepSessionMs);
    this.#events.kept(s, reason);
  }

  /**
   * A drain: the connection gets Close 0x01 (PROTOCOL §4: maintenance, go elsewhere), yet the
   * session is kept, so its device resumes on another node with what is buffered for it (issue 12).
   * Responses the device sends until it ends its side are still routed. False: not connected here.
   */
  handOff(s: Session): boolean {
    const link = s.link;
    if (!link || s.state !== 'connected') return false;
    this.detach(s, link, true, 'drained');
    link.close(CloseCode.MAINTENANCE, 'drained', 'until-peer-ends');
    return true;
  }

  /** Ends a session at once; each request buffered for it is answered 0xA0 (BufferedRequest.discard). */
  end(s: Session, reason: EndReason, closeCode: number = CloseCode.MAINTENANCE): void {
    if (s.state === 'ended') return;
    const link = this.#leave(s);
    s.bufferIfMade?.discard();
    link?.close(closeCode);
    this.#shared?.end(s);
    this.#events.ended(s, reason);
  }

  /**
   * A newer connection on another node took the UID (cluster): the connection here closes 0xA1
   * and the session leaves this node, with no change to the fleet's entry (it is the new one's).
   */
  release(s: Session): void {
    if (s.state !== 'connected') return;
    this.#leave(s)?.close(CloseCode.FREEING_RESOURCES, 'taken-over', true);
  }

  /** The session leaves this node: ended, its timers stopped, out of the store. Returns the link it had. */
  #leave(s: Session): SessionLink | undefined {
    const link = s.link;
    s.state = 'ended';
    s.link = undefined;
    this.#clock.clearTimeout(s.keptTimer);
    this.#clock.clearTimeout(s.tokenTimer);
    if (this.store.get(s.uid) === s) this.store.delete(s.uid);
    return link;
  }

  /**
   * Sends to a connected session, buffers for a kept one (PROTOCOL §6). `request` ties a
   * buffered Request to its tracking entry; without it (responses) a refusal is counted as dropped.
   */
  deliver(uid: string, t: Transmission, request?: BufferedRequest): Delivery {
    const d = this.offer(uid, t, request);
    if (!request && d !== 'sent' && d !== 'buffered' && d !== 'forwarded') this.#events.dropped(uid, d, t.type);
    return d;
  }

  /**
   * `deliver` that leaves a refusal to its caller. Nothing larger than the session's announced
   * maximum is sent or buffered (PROTOCOL §3). Telemetry may fill only half a kept buffer, so
   * that a burst of datagrams never makes requests to a briefly absent central refused.
   */
  offer(uid: string, t: Transmission, request?: BufferedRequest): Delivery {
    const s = this.store.get(uid);
    if (!s || s.state === 'ended') {
      if (!this.#shared) return 'no-session';
      this.#shared.offer(uid, t, request);
      return 'forwarded';
    }
    const max = s.maxTransmissionLength;
    if (max > 0 && transmissionLength(t) > max) return 'too-large';
    if (s.link) {
      s.link.send(t);
      return 'sent';
    }
    const refusal = s.buffer.push({ bytes: encodeTransmission(t), request }, t.type === ToT.TELEMETRY ? TELEMETRY_SHARE : 1);
    return refusal ?? 'buffered';
  }

  /** Ends every session (shutdown): Close `code` to the connected ones. */
  endAll(reason: EndReason, closeCode: number): void {
    for (const s of [...this.store.values()]) this.end(s, reason, closeCode);
  }
}
