import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { Clock, TimerHandle } from '../clock.js';
import { CloseCode, ToT, type Payload } from '../protocol/index.js';
import { ClientError, ClientErrorCode, toClientError } from './errors.js';
import { normalizeKey, openSession } from './open-session.js';
import { EMPTY_PAYLOAD, toPayload, type PayloadInput } from './payload-helpers.js';
import { answerWith, type RequestHandler } from './request-serving.js';
import { refClock } from './ref-clock.js';
import { TakeoverBackoff } from './takeover-backoff.js';
import { SessionClient, type IncomingRequest, type SessionEnd, type SessionSink } from './session-client.js';

/** Options shared by ObjectClient and CentralClient. */
export interface BaseClientOptions {
  readonly host: string;
  readonly port: number;
  readonly key: Buffer | string;
  readonly tls?: boolean | tls.ConnectionOptions;
  readonly maxTransmissionLength?: number;
  /** Default timeout of request(); default 15 000 ms. */
  readonly requestTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly localAddress?: string;
  readonly followRedirect?: boolean;
  /**
   * Reconnect after an unexpected drop, with exponential backoff and jitter (default 100 ms to 30 s).
   * After a takeover (Close 0xA1: another connection holds our UID) the delay starts at
   * `takeoverMinMs` (default 1 s, at most maxMs) and doubles per takeover in a row, until a session
   * lasts maxMs. `random` (tests) replaces Math.random for the jitter.
   */
  readonly reconnect?: boolean | {
    readonly minMs?: number; readonly maxMs?: number; readonly takeoverMinMs?: number; readonly random?: () => number;
  };
  /** Timer source (request timeouts, handshake deadline, backoff). Default: ref'd system timers. */
  readonly clock?: Clock;
}

/** The 'close' event: one per connection that ends. */
export interface CloseEvent extends SessionEnd {
  /** A reconnect is scheduled ('reconnect' follows). */
  readonly willReconnect: boolean;
}

/** A Request passed to 'request' listeners when no handler is set. */
export interface RequestEvent extends IncomingRequest {
  /** Sends the Response on the current connection; false when none is open. */
  readonly respond: (code: number, payload?: PayloadInput) => boolean;
}

type State = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/**
 * Connection lifecycle shared by both clients: connect, reconnect with backoff,
 * close/destroy (both idempotent), and serving incoming Requests.
 */
export abstract class BaseClient extends EventEmitter {
  protected readonly clock: Clock;
  readonly #opts: BaseClientOptions;
  readonly #uid: string;
  readonly #role: 'object' | 'central';
  readonly #key: Buffer;
  readonly #handler: RequestHandler<never> | undefined;
  readonly #backoff: { minMs: number; maxMs: number; random: () => number } | undefined;
  readonly #takeovers: TakeoverBackoff | undefined;
  #state: State = 'idle';
  #session: SessionClient | undefined;
  #attempt = 0;
  #timer: TimerHandle | undefined;
  #abort = new AbortController();

  constructor(opts: BaseClientOptions, uid: string, role: 'object' | 'central', handler: RequestHandler<never> | undefined) {
    super();
    this.#opts = opts;
    this.#uid = uid;
    this.#role = role;
    this.#key = normalizeKey(opts.key);
    this.#handler = handler;
    this.clock = opts.clock ?? refClock;
    const r = opts.reconnect === true ? {} : opts.reconnect || undefined;
    const b = r && { minMs: r.minMs ?? 100, maxMs: r.maxMs ?? 30_000, random: r.random ?? Math.random };
    this.#backoff = b;
    this.#takeovers = r && b && new TakeoverBackoff({
      firstMs: Math.min(r.takeoverMinMs ?? 1000, b.maxMs), maxMs: b.maxMs, stableMs: b.maxMs, now: () => this.clock.now(), random: b.random,
    });
  }

  /** True while an authenticated connection is open. */
  get connected(): boolean {
    return this.#state === 'open' && this.#session?.open === true;
  }

  /**
   * Opens the session; rejects with the handshake's ClientError. No retry on this first attempt.
   * May be called again after close(): a device that slept (Close 0xA0) resumes its kept session.
   */
  async connect(): Promise<void> {
    if (this.#state === 'closed') {
      this.#state = 'idle';
      this.#abort = new AbortController();
    }
    if (this.#state !== 'idle') throw new ClientError(ClientErrorCode.INVALID_ARG, `connect() called while ${this.#state}`);
    try {
      await this.#open();
    } catch (err) {
      if ((this.#state as State) === 'connecting') this.#state = 'idle';
      throw err;
    }
  }

  /** Sends Close `code` (default maintenance) and ends the connection. Safe to call twice. */
  async close(code: number = CloseCode.MAINTENANCE): Promise<void> {
    const session = this.#stop();
    if (session) await session.close(code);
    this.onStopped();
  }

  /** Drops the connection abruptly, without Close (simulates a crash). Safe to call twice. */
  destroy(): void {
    this.#stop()?.destroy();
    this.onStopped();
  }

  /** The open session, or an ERR_IOTS_CLIENT_CLOSED error. */
  protected session(): SessionClient {
    const s = this.#session;
    if (this.#state !== 'open' || s === undefined) throw new ClientError(ClientErrorCode.CLOSED, 'not connected');
    return s;
  }

  protected abstract onToken(token: Buffer): void;
  protected abstract onTelemetry(uid: string, payload: Payload): void;
  /** Called after close()/destroy(), to release per-client resources. */
  protected abstract onStopped(): void;

  #stop(): SessionClient | undefined {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#state = 'closed';
    this.#abort.abort();
    return this.#session;
  }

  async #open(): Promise<void> {
    this.#state = 'connecting';
    const o = this.#opts;
    const opened = await openSession({
      host: o.host, port: o.port, uid: this.#uid, key: this.#key, tls: o.tls, maxTransmissionLength: o.maxTransmissionLength,
      handshakeTimeoutMs: o.handshakeTimeoutMs, localAddress: o.localAddress, followRedirect: o.followRedirect, clock: this.clock,
      signal: this.#abort.signal,
    });
    if ((this.#state as State) === 'closed') {
      opened.socket.destroy();
      throw new ClientError(ClientErrorCode.CLOSED, 'closed while connecting');
    }
    const session: SessionClient = new SessionClient({
      socket: opened.socket, rest: opened.rest, role: this.#role, maxTransmissionLength: o.maxTransmissionLength ?? 0,
      requestTimeoutMs: o.requestTimeoutMs ?? 15_000, closeTimeoutMs: o.handshakeTimeoutMs ?? 10_000, clock: this.clock,
      sink: this.#sink(() => session),
    });
    this.#session = session;
    this.#state = 'open';
    this.#attempt = 0;
    this.#takeovers?.opened();
    this.emit('connected', { host: opened.host, port: opened.port });
    session.start();
  }

  #sink(self: () => SessionClient): SessionSink {
    return {
      request: (req) => this.#serve(req),
      token: (token) => this.onToken(token),
      telemetry: (uid, payload) => this.onTelemetry(uid, payload),
      ended: (end) => this.#ended(self(), end),
    };
  }

  #ended(session: SessionClient, end: SessionEnd): void {
    if (session !== this.#session) return;
    this.#session = undefined;
    // Retrying after our own protocol error or a "too many" close would only repeat it.
    const retry = this.#state === 'open' && this.#backoff !== undefined
      && end.code !== CloseCode.PROTOCOL_ERROR && end.code !== CloseCode.TOO_MANY;
    if (this.#state === 'open') this.#state = retry ? 'backoff' : 'closed';
    this.emit('close', { ...end, willReconnect: retry } satisfies CloseEvent);
    if (end.error?.code === ClientErrorCode.PROTOCOL) this.#report(end.error);
    if (!retry) return;
    // PROTOCOL §3 step 7: 0xA1 from the concentrator to a connected session is a takeover.
    if (end.remote && end.code === CloseCode.FREEING_RESOURCES) this.#scheduleReconnect(this.#takeovers!.takenOver());
    else this.#scheduleReconnect();
  }

  /** `takeoverDelayMs`: set when the session was taken over (see TakeoverBackoff). */
  #scheduleReconnect(takeoverDelayMs?: number): void {
    const { minMs, maxMs, random } = this.#backoff!;
    this.#attempt++;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.#attempt - 1, 30));
    const delayMs = takeoverDelayMs ?? Math.round(ceiling / 2 + random() * (ceiling / 2));
    this.emit('reconnect', { attempt: this.#attempt, delayMs, ...(takeoverDelayMs !== undefined ? { takenOver: true } : {}) });
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#open().catch((err: unknown) => {
        if (this.#state === 'closed') return;
        this.#state = 'backoff';
        this.#report(toClientError(err, ClientErrorCode.CONNECT, 'reconnect failed'));
        this.#scheduleReconnect();
      });
    }, delayMs);
  }

  /** 'error' is only emitted to listeners: an unhandled one must not crash a reconnecting client. */
  #report(err: ClientError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #serve(req: IncomingRequest): void {
    if (this.#handler === undefined) {
      const respond = (code: number, payload?: PayloadInput): boolean => this.#respond(req, code, payload);
      this.emit('request', { uid: req.uid, tracking: req.tracking, payload: req.payload, respond } satisfies RequestEvent);
      return;
    }
    void this.#runHandler(req);
  }

  async #runHandler(req: IncomingRequest): Promise<void> {
    const { code, payload } = await answerWith(this.#handler as RequestHandler, req);
    this.#respond(req, code, payload);
  }

  /** Answers on the current connection: after a reconnect the concentrator has resumed the session. */
  #respond(req: IncomingRequest, code: number, payload: PayloadInput = EMPTY_PAYLOAD): boolean {
    const s = this.#session;
    if (s === undefined) return false;
    return s.send({ type: ToT.RESPONSE, uid: req.uid, tracking: req.tracking, code, payload: toPayload(payload) });
  }
}
