import dgram from 'node:dgram';
import net from 'node:net';
import { encodeDatagram, isValidUid, type Payload } from '../protocol/index.js';
import { BaseClient, type BaseClientOptions } from './base-client.js';
import type { RequestHandler } from './request-serving.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { toPayload, type PayloadInput } from './payload-helpers.js';
import type { ResponseResult } from './request-tracker.js';
import type { IncomingRequest } from './session-client.js';

/** Options of {@link ObjectClient}. */
export interface ObjectClientOptions extends BaseClientOptions {
  readonly uid: string;
  /** Answers the central's Requests; without it they are emitted as 'request' events. */
  readonly handler?: RequestHandler<IncomingRequest>;
  /** Where telemetry datagrams go; default the TCP host and port. */
  readonly udp?: { readonly host: string; readonly port: number };
}

/** Per-call options of request(). */
export interface RequestOptions {
  readonly timeoutMs?: number;
}

/**
 * An IoT object: one TCP session to the concentrator, requests to the central, UDP
 * telemetry with the token the concentrator hands out (PROTOCOL §7).
 *
 * Events: 'connected' ({ host, port }), 'token' (Buffer), 'request' (RequestEvent, only
 * without a handler), 'close' (CloseEvent, once per connection), 'reconnect'
 * ({ attempt, delayMs, takenOver? }), 'error' (ClientError; only emitted when listened to).
 */
export class ObjectClient extends BaseClient {
  readonly #udp: { readonly host: string; readonly port: number };
  #token: Buffer | undefined;
  #dgram: dgram.Socket | undefined;
  #stopped = false;

  constructor(opts: ObjectClientOptions) {
    if (!isValidUid(opts.uid) || opts.uid === '') {
      throw new ClientError(ClientErrorCode.INVALID_ARG, 'an object UID is 1 to 16 bytes of UTF-8');
    }
    super(opts, opts.uid, 'object', opts.handler as RequestHandler<never> | undefined);
    this.#udp = opts.udp ?? { host: opts.host, port: opts.port };
  }

  /** The latest telemetry token received (ToT 5); kept after the connection ends. */
  get token(): Buffer | undefined {
    return this.#token;
  }

  /** Sends a Request to the central and resolves with its Response (any code, including 0xA0/0xA1). */
  request(payload: PayloadInput, opts: RequestOptions = {}): Promise<ResponseResult> {
    try {
      return this.session().request(undefined, toPayload(payload), opts.timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends one UDP telemetry datagram (token + payload block). Works while disconnected
   * and after close(), as long as a token was received: that is out-of-session telemetry.
   */
  sendTelemetry(payload: PayloadInput): Promise<void> {
    const token = this.#token;
    if (token === undefined) return Promise.reject(new ClientError(ClientErrorCode.NO_TOKEN, 'no telemetry token received'));
    let datagram: Buffer;
    try {
      datagram = encodeDatagram(token, toPayload(payload));
    } catch (err) {
      return Promise.reject(err);
    }
    const oneShot = this.#stopped;
    const socket = oneShot ? this.#createDgram() : (this.#dgram ??= this.#createDgram());
    return new Promise((resolve, reject) => {
      socket.send(datagram, this.#udp.port, this.#udp.host, (err) => {
        if (oneShot) socket.close();
        if (err) reject(new ClientError(ClientErrorCode.CLOSED, `telemetry send failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  protected onToken(token: Buffer): void {
    this.#token = token;
    this.emit('token', token);
  }

  protected onTelemetry(_uid: string, _payload: Payload): void {
    // Unreachable: the session rejects identified telemetry sent to an object.
  }

  protected onStopped(): void {
    this.#stopped = true;
    this.#dgram?.close();
    this.#dgram = undefined;
  }

  #createDgram(): dgram.Socket {
    const socket = dgram.createSocket(net.isIPv6(this.#udp.host) ? 'udp6' : 'udp4');
    socket.on('error', () => {}); // send errors reach the send callback
    socket.unref();
    return socket;
  }
}
