import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import {
  CloseCode, ProtocolError, ProtocolErrorCode, ToT, TransmissionParser, transmissionLength, writeTransmission,
  type Transmission,
} from '../protocol/index.js';
import type { SessionLink } from '../registry/session.js';
import type { IdleSweep, IdleWatched } from './idle-sweep.js';
import { ConnectionTrace, type TransmissionTrace } from './transmission-trace.js';

/** What one connection is: its own figures (the options are shared by every connection of a host). */
export interface ConnectionPeer {
  readonly peer: string;
  readonly tls: boolean;
  readonly maxTransmissionLength: number;
  /** The session's UID, named in trace lines. */
  readonly uid?: string;
}

/** Settings every connection of a host shares: one object for all of them, not one per connection (issue 14). */
export interface ConnectionOptions {
  readonly maxTransmissionBytes: number;
  readonly clock: Clock;
  /**
   * The host's idle checks (tcp.pingIdleSec): after a silence of its period we Ping; twice that
   * with no answer and the peer is taken as dead. Undefined: off.
   */
  readonly idleSweep?: IdleSweep;
  /** How long a peer gets to close after our Close before the socket is destroyed. */
  readonly closeGraceMs: number;
  /** Bound on the socket's `writableLength`: what does not fit waits in the queue, under the drain deadline. */
  readonly writeBufferBytes: number;
  readonly drainTimeoutMs: number;
  /** Time a started transmission has to complete. */
  readonly transmissionTimeoutMs: number;
  /** Per-ToT counters of what is sent (metrics), indexed by type. */
  readonly sentCounters?: ReadonlyArray<{ inc(): void } | undefined>;
  /** Debug lines per transmission in and out; consulted only while `trace.enabled`. */
  readonly trace?: TransmissionTrace;
  /**
   * Told when a started connection's socket has closed, before the close is reported: the host
   * forgets the socket here rather than through a 'close' listener of its own on it (issue 14).
   */
  readonly socketClosed?: (socket: Socket) => void;
}

export interface ClosedInfo {
  /** Close code the peer sent, if any. */
  readonly received?: number;
  /** Close code we sent, if any. */
  readonly sent?: number;
  /** Why the connection went: 'peer-close', 'socket-end', 'error', 'idle', 'protocol-error', 'drain-timeout'... */
  readonly reason: string;
  /**
   * What never reached the kernel, in order: writes that failed, what was still queued (a peer
   * that stopped reading, a socket gone before the flush) and what was sent while closing.
   */
  readonly unsent: ReadonlyArray<Transmission | Buffer>;
}

export interface ConnectionHooks {
  onTransmission(t: Transmission): void;
  /** A malformed or oversized stream; the connection has already sent its Close. */
  onProtocolError(err: ProtocolError): void;
  onClosed(info: ClosedInfo): void;
}

/** The socket's Connection, read by the listeners every socket shares. */
const CONNECTION = Symbol('iotsocket.connection');
type Carrier = Socket & { [CONNECTION]?: Connection };

/** Bits of Connection.#flags. */
const FLUSH_SCHEDULED = 1;
const CLOSING = 2;
const PING_SENT = 4;
const BLOCKED = 8;
const LATE_RESPONSES = 16;
const END_AFTER_PEER = 32;

/**
 * An authenticated connection: the only session-layer code that touches a socket after the
 * handshake. Outgoing transmissions are queued and written once per loop turn in one buffer.
 */
export class Connection implements SessionLink, IdleWatched {
  readonly peer: string;
  readonly tls: boolean;
  readonly maxTransmissionLength: number;
  readonly #uid: string;
  readonly #socket: Socket;
  readonly #opts: ConnectionOptions;
  readonly #parser: TransmissionParser;
  #hooks: ConnectionHooks | undefined;
  /** What waits for the next flush; undefined when nothing does (an idle connection holds no array: issue 14). */
  #queue: Array<Transmission | Buffer> | undefined;
  #queuedBytes = 0;
  /** Six booleans in one field (the bits below: 40 bytes less per connection, issue 14). */
  #flags = 0;
  #received: number | undefined;
  #sent: number | undefined;
  #reason = 'socket-end';
  #lastActivity: number;
  #graceTimer: TimerHandle | undefined;
  #partialTimer: TimerHandle | undefined;
  #drainTimer: TimerHandle | undefined;
  /** Our writes not yet completed: while one is, its callback will move a blocked queue on. */
  #pendingWrites = 0;
  /**
   * The bytes of each write not completed or failed, oldest first (the socket holds them anyway):
   * handed back at close. The oldest in a field of its own, the others in an array made only
   * when writes overlap: an array pushed and shifted once per write kept a 17-slot backing
   * store on every idle connection (issue 14).
   */
  #oldestWrite: Buffer | undefined;
  #laterWrites: Buffer[] | undefined;
  /** The write callback (a bound method: no closure and context of its own, issue 14). */
  readonly #written: (err?: Error | null) => void;
  /** Built the first time a line is traced (debug only). */
  #tracer: ConnectionTrace | undefined;

  constructor(socket: Socket, opts: ConnectionOptions, peer: ConnectionPeer) {
    this.#socket = socket;
    this.#opts = opts;
    this.peer = peer.peer;
    this.tls = peer.tls;
    this.maxTransmissionLength = peer.maxTransmissionLength;
    this.#uid = peer.uid ?? '';
    this.#parser = new TransmissionParser(opts.maxTransmissionBytes);
    this.#lastActivity = opts.clock.now();
    this.#written = this.#onWritten.bind(this);
  }

  get #flushScheduled(): boolean { return (this.#flags & FLUSH_SCHEDULED) !== 0; }
  set #flushScheduled(v: boolean) { this.#setFlag(FLUSH_SCHEDULED, v); }
  get #closing(): boolean { return (this.#flags & CLOSING) !== 0; }
  set #closing(v: boolean) { this.#setFlag(CLOSING, v); }
  get #pingSent(): boolean { return (this.#flags & PING_SENT) !== 0; }
  set #pingSent(v: boolean) { this.#setFlag(PING_SENT, v); }
  get #blocked(): boolean { return (this.#flags & BLOCKED) !== 0; }
  set #blocked(v: boolean) { this.#setFlag(BLOCKED, v); }
  /** Set when closed by a takeover: answers to requests this connection received still count. */
  get #lateResponses(): boolean { return (this.#flags & LATE_RESPONSES) !== 0; }
  set #lateResponses(v: boolean) { this.#setFlag(LATE_RESPONSES, v); }
  /** Closing for a drain: our side ends when the peer's does. */
  get #endAfterPeer(): boolean { return (this.#flags & END_AFTER_PEER) !== 0; }
  set #endAfterPeer(v: boolean) { this.#setFlag(END_AFTER_PEER, v); }

  #setFlag(bit: number, v: boolean): void {
    this.#flags = v ? this.#flags | bit : this.#flags & ~bit;
  }

  #traced(): ConnectionTrace {
    return (this.#tracer ??= new ConnectionTrace(this.#opts.trace!, this.#uid, this.peer));
  }

  /** What the parser hands over, with the connection as `this`: one function for every connection. */
  static readonly #emit = function (this: Connection, t: Transmission): void {
    if (this.#closing && t.type !== ToT.RESPONSE) return;
    if (this.#opts.trace?.enabled) this.#traced().received(t);
    this.#hooks?.onTransmission(t);
  };

  /**
   * Connections with a flush scheduled, in the order they asked: one setImmediate flushes them
   * all (a bound #flush per connection was a closure and a context each: issue 14).
   */
  static #toFlush: Connection[] = [];
  static readonly #flushAll = (): void => {
    const due = Connection.#toFlush;
    Connection.#toFlush = [];
    for (let i = 0; i < due.length; i++) due[i]!.#doFlush();
  };

  static readonly #socketData = function (this: Carrier, chunk: Buffer): void {
    this[CONNECTION]!.#onData(chunk);
  };

  static readonly #socketEnd = function (this: Carrier): void {
    this[CONNECTION]!.#onEnd();
  };

  static readonly #socketError = function (this: Carrier): void {
    const c = this[CONNECTION]!;
    if (!c.#closing) c.#reason = 'error';
  };

  static readonly #socketClose = function (this: Carrier): void {
    const c = this[CONNECTION]!;
    c.#opts.socketClosed?.(this);
    if (c.#hooks) c.#onClose();
  };

  /** The clock's time of the last read from the peer: when the transmissions it is handing over arrived. */
  get readAt(): number {
    return this.#lastActivity;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Starts reading; call once the session is attached. */
  start(hooks: ConnectionHooks): void {
    this.#hooks = hooks;
    const s = this.#socket as Carrier;
    // The same four listeners for every socket, which finds its connection on itself: four
    // closures per connection were ~260 bytes of heap each session (issue 14).
    s[CONNECTION] = this;
    s.on('data', Connection.#socketData);
    // A socket that does not allow half-open connections (the daemon's server's) ends our side
    // itself once the peer's ends (Node's Readable, on the next tick): a listener of ours
    // would make 'end' an array of two on every socket (issue 14).
    if (s.allowHalfOpen !== false) s.on('end', Connection.#socketEnd);
    s.on('error', Connection.#socketError);
    s.on('close', Connection.#socketClose);
    this.#opts.idleSweep?.add(this);
    s.resume();
    // Closed before it started (a cluster's claim took a round trip): report it as any close.
    if (s.destroyed) setImmediate(() => { if (this.#hooks) this.#onClose(); });
  }

  send(t: Transmission): void {
    if (this.#closing) return this.#late(t);
    this.#opts.sentCounters?.[t.type]?.inc();
    if (this.#opts.trace?.enabled) this.#traced().sent(t);
    (this.#queue ??= []).push(t);
    this.#queuedBytes += transmissionLength(t);
    this.#schedule();
  }

  sendBytes(bytes: Buffer): void {
    if (this.#closing) return this.#late(bytes);
    this.#opts.sentCounters?.[bytes[0]! >> 4]?.inc();
    if (this.#opts.trace?.enabled) this.#traced().sent(bytes);
    (this.#queue ??= []).push(bytes);
    this.#queuedBytes += bytes.length;
    this.#schedule();
  }

  /** Sent while closing, before the close is reported (e.g. the idle check destroyed it): handed back with the rest. */
  #late(item: Transmission | Buffer): void {
    if (this.#hooks) (this.#queue ??= []).push(item);
  }

  /**
   * Sends Close `code` after what is queued, then ends the connection. Idempotent. With
   * `acceptResponses` (takeover), Responses the peer sends before it closes are still routed.
   * 'until-peer-ends' (a drain): our side ends only after the peer's, so a device answering what
   * it received before the Close can still write (a half-closed peer socket may not); closeGraceMs bounds it.
   */
  close(code: number, reason = 'closed-by-concentrator', acceptResponses: boolean | 'until-peer-ends' = false): void {
    if (this.#closing) return;
    this.#lateResponses = acceptResponses !== false;
    if (this.#opts.trace?.enabled) this.#traced().sent({ type: ToT.CLOSE, code });
    (this.#queue ??= []).push({ type: ToT.CLOSE, code });
    this.#queuedBytes += 2;
    this.#sent = code;
    this.#reason = reason;
    this.#doFlush(true);
    this.#closing = true;
    if (!acceptResponses) this.#parser.reset();
    if (acceptResponses === 'until-peer-ends') this.#endAfterPeer = true;
    else this.#socket.end();
    this.#graceTimer = this.#opts.clock.setTimeout(() => this.#socket.destroy(), this.#opts.closeGraceMs);
  }

  /** Stops reading from the peer (its sends back up in TCP) until resumeReading(). */
  pauseReading(): void {
    this.#socket.pause();
  }

  resumeReading(): void {
    if (!this.#socket.destroyed) this.#socket.resume();
  }

  /** Empties the queue and returns it, for the session to route elsewhere (the peer closed first). */
  takeUnsent(): Array<Transmission | Buffer> {
    const q = this.#queue ?? [];
    this.#queue = undefined;
    this.#queuedBytes = 0;
    return q;
  }

  /** Drops the connection without a Close (peer is dead or unresponsive). */
  destroy(reason: string): void {
    if (!this.#closing) this.#reason = reason;
    this.#closing = true;
    this.#socket.destroy();
  }

  #schedule(): void {
    if (this.#blocked) {
      // The peer is not reading: do not let our queue grow past the same bound either.
      if (this.#queuedBytes > this.#opts.writeBufferBytes) this.#stall();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After the poll phase, not after each callback: everything this connection is given by
    // one loop turn (a read of many transmissions, a burst of UDP datagrams routed to the
    // central, reads from several objects) goes out in one write. With nextTick, every
    // datagram cost its own write syscall.
    if (Connection.#toFlush.push(this) === 1) setImmediate(Connection.#flushAll);
  }

  /**
   * Writes what fits under `writeBufferBytes` in one buffer; the rest stays queued until a
   * write completes (the peer reads) or the drain deadline drops the peer. `all` (closing):
   * everything goes. A single transmission larger than the room goes out only when no write of
   * ours is pending, so the bound is max(cap, largest transmission) and nothing waits forever.
   */
  #doFlush(all = false): void {
    this.#flushScheduled = false;
    const q = this.#queue;
    if (q === undefined || this.#closing || this.#socket.destroyed) return;
    const room = this.#opts.writeBufferBytes - this.#socket.writableLength;
    let n = q.length;
    let bytes = this.#queuedBytes;
    if (!all && bytes > room) [n, bytes] = this.#fitting(room);
    if (n > 0) {
      const buf = Buffer.allocUnsafe(bytes);
      let o = 0;
      for (let i = 0; i < n; i++) {
        const item = q[i]!;
        if (Buffer.isBuffer(item)) o += item.copy(buf, o);
        else o = writeTransmission(item, buf, o);
      }
      this.#queue = n === q.length ? undefined : q.slice(n);
      this.#queuedBytes -= bytes;
      this.#pendingWrites++;
      if (this.#oldestWrite === undefined) this.#oldestWrite = buf;
      else (this.#laterWrites ??= []).push(buf);
      this.#socket.write(buf, this.#written);
    }
    if (this.#queue === undefined) return this.#unblock();
    if (!this.#blocked) {
      this.#blocked = true;
      this.#drainTimer = this.#opts.clock.setTimeout(() => this.#stall(), this.#opts.drainTimeoutMs);
    }
  }

  /** How many queued items, and their bytes, fit in `room`; one oversized item only when none of ours is pending. */
  #fitting(room: number): [number, number] {
    let n = 0;
    let bytes = 0;
    for (const item of this.#queue!) {
      const len = Buffer.isBuffer(item) ? item.length : transmissionLength(item);
      if (bytes + len > room && !(n === 0 && this.#pendingWrites === 0)) break;
      n++;
      bytes += len;
    }
    return [n, bytes];
  }

  /**
   * A write reached the kernel: the peer is reading, so the deadline restarts and the queue
   * moves on. A failed one (the peer reset) never did: it stays listed, to be handed back.
   * A socket calls back in write order and fails every write after a failed one, so a success
   * is always the oldest listed.
   */
  #onWritten(err: Error | null | undefined): void {
    this.#pendingWrites--;
    if (!err) this.#oldestWrite = this.#laterWrites?.length ? this.#laterWrites.shift() : undefined;
    if (!this.#blocked || this.#closing) return;
    this.#opts.clock.clearTimeout(this.#drainTimer);
    this.#drainTimer = this.#opts.clock.setTimeout(() => this.#stall(), this.#opts.drainTimeoutMs);
    this.#doFlush();
  }

  #unblock(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.#opts.clock.clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  /** A peer that does not read: drop it; what never reached the socket is handed back at close. */
  #stall(): void {
    if (this.#closing) return;
    this.destroy('drain-timeout');
  }

  #onData(chunk: Buffer): void {
    if (this.#closing && !this.#lateResponses) return;
    this.#lastActivity = this.#opts.clock.now();
    this.#pingSent = false;
    const err = this.#parser.push(chunk, Connection.#emit, this);
    if (!err) return this.#watchPartial();
    // PROTOCOL §4: oversized → Close 0x02; anything else malformed → Close 0x00.
    this.close(err.code === ProtocolErrorCode.TOO_LARGE ? CloseCode.TOO_MANY : CloseCode.PROTOCOL_ERROR, 'protocol-error');
    this.#hooks?.onProtocolError(err);
  }

  /** A transmission that has started must complete within its deadline (slow-drip peers). */
  #watchPartial(): void {
    const clock = this.#opts.clock;
    if (!this.#parser.hasPartial) {
      if (this.#partialTimer) clock.clearTimeout(this.#partialTimer);
      this.#partialTimer = undefined;
    } else if (!this.#partialTimer && !this.#closing) {
      this.#partialTimer = clock.setTimeout(() => {
        this.#partialTimer = undefined;
        if (this.#closing) return;
        this.close(CloseCode.PROTOCOL_ERROR, 'transmission-timeout');
        this.#hooks?.onProtocolError(new ProtocolError(ProtocolErrorCode.INCOMPLETE_TIMEOUT, 'transmission not completed in time'));
      }, this.#opts.transmissionTimeoutMs);
    }
  }

  /** The peer's Close: remember its code, then finish our side. */
  noteCloseReceived(code: number): void {
    this.#lateResponses = false;
    this.#received = code;
    this.#reason = 'peer-close';
    this.#closing = true;
    this.#parser.reset();
    this.#socket.end();
    this.#graceTimer = this.#opts.clock.setTimeout(() => this.#socket.destroy(), this.#opts.closeGraceMs);
  }

  #onEnd(): void {
    if (!this.#closing || this.#endAfterPeer) this.#socket.end();
  }

  #onClose(): void {
    const { clock } = this.#opts;
    this.#opts.idleSweep?.delete(this);
    for (const t of [this.#graceTimer, this.#partialTimer, this.#drainTimer]) clock.clearTimeout(t);
    this.#closing = true;
    const hooks = this.#hooks;
    this.#hooks = undefined;
    // A write that failed (the peer reset: the kernel refused it) or never completed did not
    // reach the peer. Except after a drain timeout: a write stalled on a full kernel buffer was
    // partly taken, and the kernel may still deliver that part, so it is not sent twice.
    const writes = this.#reason === 'drain-timeout' || !this.#oldestWrite ? [] : [this.#oldestWrite, ...(this.#laterWrites ?? [])];
    const unsent = this.#queue ? [...writes, ...this.#queue] : writes;
    this.#oldestWrite = undefined;
    this.#laterWrites = undefined;
    this.#queue = undefined;
    this.#queuedBytes = 0;
    hooks?.onClosed({ received: this.#received, sent: this.#sent, reason: this.#reason, unsent });
  }

  /**
   * The host's idle sweep asks once per period (idle-sweep.ts): silent for a period, the peer
   * gets a Ping; still silent a period after it, the connection is dropped.
   */
  idleCheck(now: number, periodMs: number): void {
    if (this.#closing || now - this.#lastActivity < periodMs) return;
    if (this.#pingSent) return this.destroy('idle');
    this.#pingSent = true;
    this.send({ type: ToT.PING });
  }
}
