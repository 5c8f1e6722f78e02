import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  AUTH_ANSWER_LENGTH, CHALLENGE_LENGTH, TransmissionParser, computeMac, decodeInitiationAnswer,
  encodeAuthAnswer, encodeInitiation, encodeTransmission, type InitiationAnswer, type Transmission,
} from '../../src/protocol/index.js';

/**
 * A byte-level client for protocol tests: every step is explicit, nothing is hidden or retried.
 * (Application code uses the SDK in src/client.)
 */
export class RawClient {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #closed = false;
  #parser: TransmissionParser | undefined;
  readonly received: Transmission[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#attach(socket);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    // No Nagle: with it, the second of two writes in a row (an ACL, then a Ping) waits up to 40 ms
    // for the daemon's delayed ACK of the first, which slows every such test and hides races
    // behind the wait (the Ping would come long after the ACL was written).
    const s = connect({ port, host, noDelay: true });
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    return new RawClient(s);
  }

  /** Full handshake: initiation, optional TLS, challenge, auth. Returns the auth byte. */
  static async open(port: number, uid: string, key: Buffer, opts: { tls?: { ca: string | string[] }; maxLength?: number } = {}): Promise<{ client: RawClient; accepted: boolean }> {
    const c = await RawClient.connect(port);
    c.write(encodeInitiation({ tls: Boolean(opts.tls), version: 1, options: 0, maxTransmissionLength: opts.maxLength ?? 0 }));
    const answer = await c.readAnswer();
    if (!answer.ok) throw new Error('initiation refused');
    if (opts.tls) await c.startTls(opts.tls.ca);
    const accepted = await c.authenticate(uid, key);
    return { client: c, accepted };
  }

  write(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  send(...ts: Transmission[]): void {
    for (const t of ts) this.socket.write(encodeTransmission(t));
  }

  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#closed) throw new Error(`closed after ${this.#buf.length} of ${n} bytes`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async readAnswer(): Promise<InitiationAnswer> {
    for (;;) {
      const r = decodeInitiationAnswer(this.#buf);
      if (typeof r === 'object') {
        this.#buf = this.#buf.subarray(r.length);
        return r.answer;
      }
      if (r === 'unknown-rule') throw new Error('unknown rule');
      if (this.#closed) throw new Error('closed before the answer');
      await new Promise<void>((res) => this.#waiters.push(res));
    }
  }

  async startTls(ca: string | string[]): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const tls = tlsConnect({ socket: this.socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => { tls.once('secureConnect', resolve); tls.once('error', reject); });
    (this as { socket: Socket }).socket = tls;
    this.#attach(tls);
  }

  async authenticate(uid: string, key: Buffer): Promise<boolean> {
    const challenge = await this.read(CHALLENGE_LENGTH);
    this.write(encodeAuthAnswer(uid, computeMac(key, challenge)));
    const [b] = await this.read(1);
    if (b === 1) this.#startParsing();
    return b === 1;
  }

  /** Next transmission received after authentication (skips nothing). */
  async next(timeoutMs = 5000): Promise<Transmission> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.#closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no transmission in time');
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), new Promise((r) => setTimeout(r, 50))]);
    }
    return this.received.shift()!;
  }

  /** Next transmission of a given type; others are skipped (e.g. tokens, pings). */
  async nextOf<T extends Transmission['type']>(type: T, timeoutMs = 5000): Promise<Extract<Transmission, { type: T }>> {
    for (;;) {
      const t = await this.next(timeoutMs);
      if (t.type === type) return t as Extract<Transmission, { type: T }>;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the socket closed; fails by name after `ms` (a broken close shows as this, not as tap's timeout). */
  whenClosed(ms = 10_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection not closed within ${ms} ms`)), ms);
      this.socket.once('close', () => { clearTimeout(timer); resolve(); });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  #startParsing(): void {
    this.#parser = new TransmissionParser(1 << 24);
    const rest = this.#buf;
    this.#buf = Buffer.alloc(0);
    if (rest.length) this.#parser.push(rest, (t) => this.received.push(t));
  }

  #attach(s: Socket): void {
    s.on('data', (chunk: Buffer) => {
      if (this.#parser) this.#parser.push(chunk, (t) => this.received.push(t));
      else this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake();
    });
    s.on('close', () => { this.#closed = true; this.#wake(); });
    s.on('error', () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}
