import type { TimerHandle } from '../clock.js';
import type { Transmission } from '../protocol/index.js';
import type { OfflineBuffer } from './offline-buffer.js';

export type SessionKind = 'object' | 'central';
export type SessionState = 'connected' | 'kept' | 'ended';

/** The transport side of a connected session, as the core sees it. */
export interface SessionLink {
  readonly peer: string;
  readonly tls: boolean;
  /** Largest transmission the peer accepts (PROTOCOL §3); 0: no limit stated. */
  readonly maxTransmissionLength: number;
  send(t: Transmission): void;
  sendBytes(bytes: Buffer): void;
  /**
   * Sends Close `code`, then ends the connection. The core has already settled the session.
   * `acceptResponses`: a taken-over connection may still deliver answers to what it received;
   * 'until-peer-ends' (a drain): and the connection ends only after the peer ends its side.
   */
  close(code: number, reason?: string, acceptResponses?: boolean | 'until-peer-ends'): void;
}

/** Makes a session's offline buffer: one function for every session of a manager. */
export type OfflineBufferFactory = () => OfflineBuffer;

/** One session (PROTOCOL §6): it outlives its connections while kept. */
export class Session {
  state: SessionState = 'connected';
  link: SessionLink | undefined;
  /** Clock ms of the last state change. */
  since: number;
  keptTimer: TimerHandle | undefined;
  tokenTimer: TimerHandle | undefined;
  /** Announced by the last connection; kept sessions keep the figure. */
  maxTransmissionLength: number;
  peer: string;
  tls: boolean;
  /** In a cluster: the directory claim this connection holds (its fencing token); '' on a single node. */
  claim = '';
  #buffer: OfflineBuffer | undefined;
  readonly #makeBuffer: OfflineBufferFactory | undefined;

  constructor(
    readonly uid: string,
    readonly kind: SessionKind,
    public group: string,
    link: SessionLink,
    buffer: OfflineBuffer | OfflineBufferFactory,
    now: number,
  ) {
    if (typeof buffer === 'function') this.#makeBuffer = buffer;
    else this.#buffer = buffer;
    this.link = link;
    this.since = now;
    this.maxTransmissionLength = link.maxTransmissionLength;
    this.peer = link.peer;
    this.tls = link.tls;
  }

  /**
   * What is addressed to this session while it is kept, in order. Made at its first use: most
   * sessions never buffer anything, and an empty buffer was ~100 bytes each (issue 14).
   */
  get buffer(): OfflineBuffer {
    return (this.#buffer ??= this.#makeBuffer!());
  }

  /** The buffer if one was made: draining, discarding or counting needs none made for it. */
  get bufferIfMade(): OfflineBuffer | undefined {
    return this.#buffer;
  }
}

/**
 * The session directory. In memory today; the interface is what a shared store (several
 * concentrators serving one fleet) would implement. Links stay local either way.
 */
export interface SessionStore {
  get(uid: string): Session | undefined;
  set(session: Session): void;
  delete(uid: string): boolean;
  values(): IterableIterator<Session>;
  readonly size: number;
}

export class MemorySessionStore implements SessionStore {
  readonly #map = new Map<string, Session>();
  get(uid: string): Session | undefined {
    return this.#map.get(uid);
  }
  set(session: Session): void {
    this.#map.set(session.uid, session);
  }
  delete(uid: string): boolean {
    return this.#map.delete(uid);
  }
  values(): IterableIterator<Session> {
    return this.#map.values();
  }
  get size(): number {
    return this.#map.size;
  }
}
