import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';
import {
  CloseCode, ProtocolErrorCode, ToT, TransmissionParser, encodeTransmission,
  type Payload, type Transmission,
} from '../protocol/index.js';
import { ClientError, ClientErrorCode, toClientError } from './errors.js';
import { RequestTracker, type ResponseResult } from './request-tracker.js';

/** A Request received from the concentrator. `uid` is set on a central's session (RTE=1). */
export interface IncomingRequest {
  readonly uid?: string;
  readonly tracking: number;
  readonly payload: Payload;
}

/** How a connection ended. `remote`: the peer closed or dropped it; `code`: Close code sent or received. */
export interface SessionEnd {
  readonly code?: number;
  readonly remote: boolean;
  readonly error?: ClientError;
}

/** Where a SessionClient delivers what it receives; implemented by the clients. */
export interface SessionSink {
  request(req: IncomingRequest): void;
  token(token: Buffer): void;
  telemetry(uid: string, payload: Payload): void;
  ended(end: SessionEnd): void;
}

export interface SessionClientOptions {
  readonly socket: Duplex;
  readonly rest?: Buffer;
  /** 'object': every transmission has RTE=0; 'central': Requests, Responses, telemetry carry a UID. */
  readonly role: 'object' | 'central';
  /** Largest transmission accepted from the peer; 0 for no limit. */
  readonly maxTransmissionLength: number;
  readonly requestTimeoutMs: number;
  /** How long close() waits for the peer before dropping the socket. */
  readonly closeTimeoutMs: number;
  readonly clock: Clock;
  readonly sink: SessionSink;
}

/** Unanswered Requests remembered at most (answers to more are still sent while the connection is open). */
const MAX_OWED = 4096;

/**
 * One authenticated connection: parses transmissions, answers Ping, tracks outgoing
 * requests, enforces who may send what (PROTOCOL §4), and reports the end exactly once.
 */
export class SessionClient {
  readonly #o: SessionClientOptions;
  readonly #parser: TransmissionParser;
  readonly #tracker: RequestTracker;
  #code: number | undefined;
  #local = false;
  #error: ClientError | undefined;
  #ended = false;
  /** Set by a protocol error or the peer's Close: nothing more is read. */
  #stopped = false;
  /** Requests received and not yet answered ('uid tracking'): after the peer's Close they are still answered. */
  readonly #owed = new Set<string>();
  /** The peer's Close arrived while answers were owed: our side ends once they are sent. */
  #endWhenAnswered = false;
  #closeTimer: TimerHandle | undefined;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  readonly #onData = (chunk: Buffer): void => {
    const err = this.#parser.push(chunk, this.#onTransmission);
    if (err) this.#protocolError(err.message, err.code === ProtocolErrorCode.TOO_LARGE ? CloseCode.TOO_MANY : CloseCode.PROTOCOL_ERROR);
  };
  readonly #onTransmission = (t: Transmission): void => this.#dispatch(t);
  readonly #onError = (err: Error): void => {
    this.#error ??= new ClientError(ClientErrorCode.CLOSED, `connection failed: ${err.message}`, { cause: err });
  };
  readonly #onClose = (): void => this.#finish();

  constructor(opts: SessionClientOptions) {
    this.#o = opts;
    this.#parser = new TransmissionParser(opts.maxTransmissionLength || Number.MAX_SAFE_INTEGER);
    this.#tracker = new RequestTracker(opts.clock);
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Starts reading: first the bytes left over by the handshake, then the socket. */
  start(): void {
    const s = this.#o.socket;
    s.on('error', this.#onError);
    s.on('close', this.#onClose);
    if (this.#o.rest && this.#o.rest.length > 0) this.#onData(this.#o.rest);
    s.on('data', this.#onData);
    s.resume();
    // Reset between the handshake and now: its 'close' may already be gone.
    if (s.destroyed) this.#finish();
  }

  /** True until the connection starts closing. */
  get open(): boolean {
    return !this.#ended && this.#code === undefined && !this.#local && this.#o.socket.writable;
  }

  /** Requests waiting for their Response. */
  get inFlight(): number {
    return this.#tracker.size;
  }

  /**
   * Writes one transmission; false when the connection is no longer open. After the peer's
   * Close, a Response to a Request received before it is still written (a draining
   * concentrator routes it): the connection ends once nothing more is owed.
   */
  send(t: Transmission): boolean {
    const owedKey = t.type === ToT.RESPONSE ? `${t.uid ?? ''} ${t.tracking}` : undefined;
    const owed = owedKey !== undefined && this.#owed.delete(owedKey);
    if (!this.open && !(owed && this.#endWhenAnswered && !this.#ended && this.#o.socket.writable)) return false;
    this.#o.socket.write(encodeTransmission(t));
    if (this.#endWhenAnswered && this.#owed.size === 0) this.#endSoon();
    return true;
  }

  /** Sends a Request (to `uid` with RTE=1 when given) and waits for its Response. */
  request(uid: string | undefined, payload: Payload, timeoutMs = this.#o.requestTimeoutMs): Promise<ResponseResult> {
    if (!this.open) return Promise.reject(new ClientError(ClientErrorCode.CLOSED, 'not connected'));
    const key = uid ?? '';
    const { tracking, promise } = this.#tracker.track(key, timeoutMs);
    try {
      this.#o.socket.write(encodeTransmission({ type: ToT.REQUEST, uid, tracking, payload }));
    } catch (err) {
      this.#tracker.fail(key, tracking, toClientError(err, ClientErrorCode.INVALID_ARG, 'cannot encode the request'));
    }
    return promise;
  }

  /** Sends Close `code`, ends the socket and resolves once it is closed. Idempotent. */
  close(code: number): Promise<void> {
    if (this.open) {
      this.#o.socket.write(encodeTransmission({ type: ToT.CLOSE, code }));
      this.#code = code;
    }
    this.#local = true;
    this.#endSoon();
    return this.#closed;
  }

  /** Drops the connection at once, without Close. */
  destroy(): void {
    if (!this.#ended && this.#code === undefined) this.#local = true;
    this.#o.socket.destroy();
  }

  #dispatch(t: Transmission): void {
    if (this.#stopped) return;
    const central = this.#o.role === 'central';
    // PROTOCOL §5: objects always send and receive with RTE=0.
    if (!central && t.uid !== undefined) return this.#protocolError(`RTE=1 on ${t.type}`, CloseCode.PROTOCOL_ERROR);
    switch (t.type) {
      case ToT.PING:
        this.send({ type: ToT.PONG });
        return;
      case ToT.PONG:
        return;
      case ToT.REQUEST:
        if (central && t.uid === undefined) return this.#protocolError('Request without UID', CloseCode.PROTOCOL_ERROR);
        this.#owe(`${t.uid ?? ''} ${t.tracking}`);
        return this.#o.sink.request(t);
      case ToT.RESPONSE:
        if (central && t.uid === undefined) return this.#protocolError('Response without UID', CloseCode.PROTOCOL_ERROR);
        this.#tracker.settle(t.uid ?? '', t.tracking, t.code, t.payload);
        return;
      case ToT.TOKEN:
        if (central) return this.#protocolError('telemetry token sent to the central', CloseCode.PROTOCOL_ERROR);
        return this.#o.sink.token(t.token);
      case ToT.TELEMETRY:
        if (!central || t.uid === undefined) return this.#protocolError('misplaced identified telemetry', CloseCode.PROTOCOL_ERROR);
        return this.#o.sink.telemetry(t.uid, t.payload);
      case ToT.CLOSE:
        this.#code ??= t.code;
        this.#stopped = true;
        if (this.#owed.size === 0) return this.#endSoon();
        // Answers still owed: sent first (send() ends our side after the last); closeTimeoutMs bounds the wait.
        this.#endWhenAnswered = true;
        this.#closeTimer ??= this.#o.clock.setTimeout(() => this.#o.socket.destroy(), this.#o.closeTimeoutMs);
        return;
      default:
        return this.#protocolError(`unexpected transmission type 0x${t.type.toString(16)}`, CloseCode.PROTOCOL_ERROR);
    }
  }

  /** Bounded: a peer's Requests left unanswered must not grow the set for ever (the oldest is forgotten). */
  #owe(key: string): void {
    this.#owed.delete(key);
    this.#owed.add(key);
    if (this.#owed.size > MAX_OWED) this.#owed.delete(this.#owed.values().next().value!);
  }

  #protocolError(message: string, code: number): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#error = new ClientError(ClientErrorCode.PROTOCOL, message, { closeCode: code });
    this.close(code).catch(() => {});
  }

  #endSoon(): void {
    const s = this.#o.socket;
    s.end();
    // A peer that never closes its side must not hold us.
    this.#closeTimer ??= this.#o.clock.setTimeout(() => s.destroy(), this.#o.closeTimeoutMs);
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#owed.clear();
    this.#o.clock.clearTimeout(this.#closeTimer);
    this.#parser.reset();
    const code = this.#code;
    const error = this.#error;
    this.#tracker.rejectAll(() => new ClientError(ClientErrorCode.CLOSED, 'connection closed', { closeCode: code, cause: error }));
    this.#o.sink.ended({ code, remote: !this.#local, error });
    this.#resolveClosed();
  }
}
