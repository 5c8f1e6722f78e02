import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../clock.js';
import {
  CloseCode, ProtocolErrorCode, ToT, TransmissionParser, transmissionLength, writeTransmission,
  type ProtocolError, type Transmission,
} from '../protocol/index.js';
import type { SessionLink } from '../registry/session.js';

export interface ConnectionOptions {
  readonly peer: string;
  readonly tls: boolean;
  readonly maxTransmissionLength: number;
  readonly maxTransmissionBytes: number;
  readonly clock: Clock;
  /** Silence after which we Ping; twice that with no answer and the peer is taken as dead. 0: off. */
  readonly pingIdleMs: number;
  /** How long a peer gets to close after our Close before the socket is destroyed. */
  readonly closeGraceMs: number;
  /** Per-ToT counters of what is sent (metrics), indexed by type. */
  readonly sentCounters?: ReadonlyArray<{ inc(): void } | undefined>;
}

export interface ClosedInfo {
  /** Close code the peer sent, if any. */
  readonly received?: number;
  /** Close code we sent, if any. */
  readonly sent?: number;
  /** Why the connection went: 'peer-close', 'socket-end', 'error', 'idle', 'protocol-error'... */
  readonly reason: string;
}

export interface ConnectionHooks {
  onTransmission(t: Transmission): void;
  /** A malformed or oversized stream; the connection has already sent its Close. */
  onProtocolError(err: ProtocolError): void;
  onClosed(info: ClosedInfo): void;
}

/**
 * An authenticated connection: the only session-layer code that touches a socket after the
 * handshake. Outgoing transmissions are queued and written once per tick in one buffer.
 */
export class Connection implements SessionLink {
  readonly peer: string;
  readonly tls: boolean;
  readonly maxTransmissionLength: number;
  readonly #socket: Socket;
  readonly #opts: ConnectionOptions;
  readonly #parser: TransmissionParser;
  #hooks: ConnectionHooks | undefined;
  #queue: Array<Transmission | Buffer> = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  #closing = false;
  #received: number | undefined;
  #sent: number | undefined;
  #reason = 'socket-end';
  #lastActivity: number;
  #pingSent = false;
  #idleTimer: TimerHandle | undefined;
  #graceTimer: TimerHandle | undefined;
  readonly #flush = () => this.#doFlush();
  readonly #emit = (t: Transmission) => this.#hooks?.onTransmission(t);

  constructor(socket: Socket, opts: ConnectionOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.peer = opts.peer;
    this.tls = opts.tls;
    this.maxTransmissionLength = opts.maxTransmissionLength;
    this.#parser = new TransmissionParser(opts.maxTransmissionBytes);
    this.#lastActivity = opts.clock.now();
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Starts reading; call once the session is attached. */
  start(hooks: ConnectionHooks): void {
    this.#hooks = hooks;
    const s = this.#socket;
    s.on('data', (chunk: Buffer) => this.#onData(chunk));
    s.on('end', () => this.#onEnd());
    s.on('error', () => { this.#reason = this.#closing ? this.#reason : 'error'; });
    s.on('close', () => this.#onClose());
    if (this.#opts.pingIdleMs > 0) this.#armIdle();
    s.resume();
  }

  send(t: Transmission): void {
    if (this.#closing) return;
    this.#opts.sentCounters?.[t.type]?.inc();
    this.#queue.push(t);
    this.#queuedBytes += transmissionLength(t);
    this.#schedule();
  }

  sendBytes(bytes: Buffer): void {
    if (this.#closing) return;
    this.#opts.sentCounters?.[bytes[0]! >> 4]?.inc();
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#schedule();
  }

  /** Sends Close `code` after what is queued, then ends the connection. Idempotent. */
  close(code: number, reason = 'closed-by-concentrator'): void {
    if (this.#closing) return;
    this.#queue.push({ type: ToT.CLOSE, code });
    this.#queuedBytes += 2;
    this.#sent = code;
    this.#reason = reason;
    this.#doFlush();
    this.#closing = true;
    this.#parser.reset();
    this.#socket.end();
    this.#graceTimer = this.#opts.clock.setTimeout(() => this.#socket.destroy(), this.#opts.closeGraceMs);
  }

  /** Drops the connection without a Close (peer is dead or unresponsive). */
  destroy(reason: string): void {
    if (!this.#closing) this.#reason = reason;
    this.#closing = true;
    this.#socket.destroy();
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(this.#flush);
  }

  #doFlush(): void {
    this.#flushScheduled = false;
    const q = this.#queue;
    if (q.length === 0 || this.#closing || this.#socket.destroyed) return;
    const buf = Buffer.allocUnsafe(this.#queuedBytes);
    let o = 0;
    for (const item of q) {
      if (Buffer.isBuffer(item)) o += item.copy(buf, o);
      else o = writeTransmission(item, buf, o);
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#socket.write(buf);
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    this.#lastActivity = this.#opts.clock.now();
    this.#pingSent = false;
    const err = this.#parser.push(chunk, this.#emit);
    if (!err) return;
    // PROTOCOL §4: oversized → Close 0x02; anything else malformed → Close 0x00.
    this.close(err.code === ProtocolErrorCode.TOO_LARGE ? CloseCode.TOO_MANY : CloseCode.PROTOCOL_ERROR, 'protocol-error');
    this.#hooks?.onProtocolError(err);
  }

  /** The peer's Close: remember its code, then finish our side. */
  noteCloseReceived(code: number): void {
    this.#received = code;
    this.#reason = 'peer-close';
    this.#closing = true;
    this.#parser.reset();
    this.#socket.end();
    this.#graceTimer = this.#opts.clock.setTimeout(() => this.#socket.destroy(), this.#opts.closeGraceMs);
  }

  #onEnd(): void {
    if (!this.#closing) this.#socket.end();
  }

  #onClose(): void {
    const { clock } = this.#opts;
    clock.clearTimeout(this.#idleTimer);
    clock.clearTimeout(this.#graceTimer);
    this.#closing = true;
    const hooks = this.#hooks;
    this.#hooks = undefined;
    hooks?.onClosed({ received: this.#received, sent: this.#sent, reason: this.#reason });
  }

  /** One timer per connection, re-armed per idle period rather than per chunk. */
  #armIdle(): void {
    const idle = this.#opts.pingIdleMs;
    this.#idleTimer = this.#opts.clock.setTimeout(() => {
      if (this.#closing) return;
      const silent = this.#opts.clock.now() - this.#lastActivity;
      if (silent >= idle) {
        if (this.#pingSent) return this.destroy('idle');
        this.#pingSent = true;
        this.send({ type: ToT.PING });
      }
      this.#armIdle();
    }, idle);
  }
}
