import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertPair } from '../../src/tls/self-signed.js';

/** One POST as the receiver saw it; `reply` answers it (once). */
export interface Hit {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: string;
  readonly body: any;
  readonly res: ServerResponse;
  reply(status: number, body?: unknown): void;
}

/**
 * A real local HTTP(S) server standing in for the central's webhook endpoints. `answer`
 * decides what each hit gets (default 200 `{}`); returning without replying holds it.
 */
export class WebhookReceiver {
  readonly hits: Hit[] = [];
  connections = 0;
  answer: (hit: Hit) => void = (hit) => hit.reply(200, {});
  readonly #server: Server;
  #port = 0;
  #waiters: Array<() => void> = [];
  #taken = 0;

  private constructor(server: Server, readonly scheme: 'http' | 'https') {
    this.#server = server;
    server.on('connection', () => { this.connections++; });
    server.on('request', (req, res) => this.#onRequest(req, res));
  }

  static async start(t: { teardown(fn: () => unknown): void }, opts: { tls?: CertPair } = {}): Promise<WebhookReceiver> {
    const server = opts.tls ? createHttps({ cert: opts.tls.cert, key: opts.tls.key }) : createHttp();
    const r = new WebhookReceiver(server, opts.tls ? 'https' : 'http');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    r.#port = (server.address() as AddressInfo).port;
    t.teardown(() => r.close());
    return r;
  }

  url(path = '/hook'): string {
    return `${this.scheme}://127.0.0.1:${this.#port}${path}`;
  }

  /** The next hit not yet taken, in arrival order. */
  async next(timeoutMs = 5000): Promise<Hit> {
    const deadline = Date.now() + timeoutMs;
    while (this.hits.length <= this.#taken) {
      if (Date.now() > deadline) throw new Error('no webhook hit in time');
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), new Promise((r) => setTimeout(r, 50))]);
    }
    return this.hits[this.#taken++]!;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try { body = JSON.parse(raw); } catch { body = undefined; }
      let replied = false;
      const hit: Hit = {
        path: req.url ?? '', headers: req.headers, raw, body, res,
        reply(status, answer) {
          if (replied) return;
          replied = true;
          const text = answer === undefined ? '' : typeof answer === 'string' ? answer : JSON.stringify(answer);
          res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        },
      };
      this.hits.push(hit);
      this.answer(hit);
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }
}

/** A URL on which nothing listens: bind an ephemeral port, then free it. */
export async function refusedUrl(): Promise<string> {
  const s = createHttp();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
