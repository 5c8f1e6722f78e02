import { connect as netConnect, type Socket } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import type { Clock } from '../../src/clock.js';
import type { Config } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from './config.js';
import { startDaemon, type Device } from './daemon.js';
import type { ConcentratorDeps } from '../../src/daemon.js';

export const BEARER = `Bearer ${CENTRAL_KEY.toString('hex')}`;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface CallOptions {
  method?: 'POST' | 'GET' | 'PUT' | 'DELETE';
  auth?: string | null;
  contentType?: string | null;
  /** Raw body text; otherwise `body` is JSON-encoded. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

/** One API call with undici; the answer's body is read whole and parsed when it is JSON. */
export async function call(base: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== null) headers['authorization'] = opts.auth ?? BEARER;
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const res = await request(`${base}${path}`, { method: opts.method ?? 'POST', headers, body: payload, dispatcher: opts.dispatcher, signal: opts.signal });
  const text = await res.body.text();
  const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
  return { status: res.statusCode, headers: res.headers, text, json: isJson ? JSON.parse(text) : undefined };
}

/** A daemon with the HTTP API on 127.0.0.1:0, plus a private undici agent closed at teardown. */
export async function startHttpDaemon(
  t: { teardown(fn: () => unknown): void },
  devices: Device[],
  opts: { over?: Record<string, any>; clock?: Clock; deps?: ConcentratorDeps; config?: Config; scheme?: 'http' | 'https'; connect?: Record<string, unknown>; logLevel?: string } = {},
) {
  const over = opts.over ?? {};
  const config = opts.config ?? testConfig(t, { ...over, http: { enabled: true, ...over.http } });
  const d = await startDaemon(t, config, devices, { clock: opts.clock, logLevel: opts.logLevel, deps: opts.deps });
  const http = d.daemon.addresses!.http!;
  const base = `${opts.scheme ?? 'http'}://127.0.0.1:${http.port}`;
  const agent = new Agent({ connect: opts.connect });
  t.teardown(() => agent.destroy());
  const post = (path: string, body?: unknown, o: CallOptions = {}) => call(base, path, body, { dispatcher: agent, ...o });
  return { ...d, base, httpPort: http.port, agent, post };
}

/** Lets pending I/O callbacks run (no timers): for "nothing happened" checks. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A plain socket speaking HTTP/1.1 by hand: for limits a real client would not cross (413, 503 mid-body). */
export class RawHttp {
  readonly socket: Socket;
  text = '';
  #waiters: Array<() => void> = [];
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => { this.text += s; this.#wake(); });
    socket.on('close', () => { this.#ended = true; this.#wake(); });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawHttp> {
    const s = netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    return new RawHttp(s);
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Resolves once the received text contains `s`. */
  async waitFor(s: string): Promise<void> {
    while (!this.text.includes(s)) {
      if (this.#ended) throw new Error(`closed before ${JSON.stringify(s)}; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Everything until the server closes the connection. */
  async untilClosed(): Promise<string> {
    while (!this.#ended) await new Promise<void>((r) => this.#waiters.push(r));
    return this.text;
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** Request head for RawHttp. */
export function head(path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: '127.0.0.1', authorization: BEARER, 'content-type': 'application/json', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
