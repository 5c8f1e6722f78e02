/**
 * A scripted concentrator FOR SDK TESTS ONLY, built from the codec: it runs the
 * handshake of PROTOCOL §3 and then lets the test send and receive transmissions.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  AUTH_ACCEPTED, AUTH_ANSWER_LENGTH, AUTH_REFUSED, CHALLENGE_LENGTH, INITIATION_LENGTH, RuleType,
  TransmissionParser, decodeAuthAnswer, decodeInitiation, encodeInitiationAnswer, encodeTransmission, verifyMac,
  type Initiation, type InitiationAnswer, type Transmission,
} from '../../src/protocol/index.js';
import { randomBytes } from 'node:crypto';
import { AsyncQueue } from './async-queue.js';

export interface FakeConcentratorOptions {
  /** uid → 16-byte key ('' is the central). */
  readonly keys?: Readonly<Record<string, Buffer>>;
  /** Certificate used when a client asks for TLS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** The initiation answer; default OK with no rule. */
  readonly answer?: (init: Initiation) => InitiationAnswer;
  /** Write every handshake byte separately, yielding between writes. */
  readonly splitWrites?: boolean;
  /** Bytes sent in the same write as the accept byte (e.g. an encoded token). */
  readonly afterAccept?: (uid: string) => Buffer | undefined;
  /** Never answer the initiation (handshake timeout tests). */
  readonly silent?: boolean;
}

/** One authenticated connection, seen from the concentrator. */
export class FakeConnection {
  readonly received = new AsyncQueue<Transmission>();
  readonly closed: Promise<void>;
  constructor(readonly socket: Duplex, readonly uid: string, readonly initiation: Initiation, rest: Buffer) {
    const parser = new TransmissionParser(1 << 20);
    const onData = (chunk: Buffer): void => {
      const err = parser.push(chunk, (t) => this.received.push(t));
      if (err) this.received.fail(err);
    };
    this.closed = once(socket, 'close').then(() => this.received.fail(new Error('connection closed')));
    if (rest.length > 0) onData(rest);
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.resume();
  }

  /** The next transmission from the client. */
  next(): Promise<Transmission> {
    return this.received.shift();
  }

  send(t: Transmission): void {
    this.socket.write(encodeTransmission(t));
  }

  sendRaw(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** Drops the socket without Close. */
  drop(): void {
    this.socket.destroy();
  }
}

export class FakeConcentrator {
  readonly connections = new AsyncQueue<FakeConnection>();
  /** Initiations received, in order, including refused ones. */
  readonly initiations: Initiation[] = [];
  /** The same initiations, to wait on. */
  readonly initiationQueue = new AsyncQueue<Initiation>();
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(readonly opts: FakeConcentratorOptions) {
    this.#server = net.createServer((s) => {
      this.#sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => {});
      this.#handshake(s).catch(() => s.destroy());
    });
  }

  static async start(opts: FakeConcentratorOptions = {}): Promise<FakeConcentrator> {
    const f = new FakeConcentrator(opts);
    f.#server.listen(0, '127.0.0.1');
    await once(f.#server, 'listening');
    return f;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** The next authenticated connection. */
  accepted(): Promise<FakeConnection> {
    return this.connections.shift();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handshake(socket: net.Socket): Promise<void> {
    let reader = new Reader(socket);
    const init = decodeInitiation(await reader.read(INITIATION_LENGTH));
    this.initiations.push(init);
    this.initiationQueue.push(init);
    if (this.opts.silent) return;
    const answer = this.opts.answer?.(init) ?? { ok: true, flags: 0, rule: { type: RuleType.NONE } };
    await this.#write(socket, encodeInitiationAnswer(answer));
    if (!answer.ok || answer.rule.type !== RuleType.NONE) {
      socket.end();
      return;
    }
    let stream: Duplex = socket;
    if (init.tls) {
      reader.detach();
      if (!this.opts.tls) return void socket.destroy();
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(this.opts.tls) });
      secure.on('error', () => {});
      await once(secure, 'secure');
      stream = secure;
      reader = new Reader(secure);
    }
    const challenge = randomBytes(CHALLENGE_LENGTH);
    await this.#write(stream, challenge);
    const { uid, mac } = decodeAuthAnswer(await reader.read(AUTH_ANSWER_LENGTH));
    const key = this.opts.keys?.[uid];
    if (key === undefined || !verifyMac(key, challenge, mac)) {
      await this.#write(stream, Buffer.from([AUTH_REFUSED]));
      stream.end();
      return;
    }
    const extra = this.opts.afterAccept?.(uid);
    const rest = reader.detach();
    this.connections.push(new FakeConnection(stream, uid, init, rest));
    await this.#write(stream, extra ? Buffer.concat([Buffer.from([AUTH_ACCEPTED]), extra]) : Buffer.from([AUTH_ACCEPTED]));
  }

  async #write(stream: Duplex, buf: Buffer): Promise<void> {
    if (!this.opts.splitWrites) {
      stream.write(buf);
      return;
    }
    for (let i = 0; i < buf.length; i++) {
      await new Promise<void>((resolve) => stream.write(buf.subarray(i, i + 1), () => setImmediate(resolve)));
    }
  }
}

/** Minimal exact-length reader for the fake's side of the handshake. */
class Reader {
  #buf = Buffer.alloc(0);
  readonly #queue = new AsyncQueue<void>();
  readonly #onData = (c: Buffer): void => {
    this.#buf = Buffer.concat([this.#buf, c]);
    this.#queue.push();
  };
  constructor(readonly stream: Duplex) {
    stream.on('data', this.#onData);
    stream.once('close', () => this.#queue.fail(new Error('closed')));
  }
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n) await this.#queue.shift();
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  detach(): Buffer {
    this.stream.pause();
    this.stream.off('data', this.#onData);
    return this.#buf;
  }
}
