import { Agent, request, type Dispatcher } from 'undici';
import type { Clock } from '../../src/clock.js';
import type { Config } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from './config.js';
import { startDaemon, type Device } from './daemon.js';

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
  opts: { over?: Record<string, any>; clock?: Clock; config?: Config; scheme?: 'http' | 'https'; connect?: Record<string, unknown> } = {},
) {
  const over = opts.over ?? {};
  const config = opts.config ?? testConfig(t, { ...over, http: { enabled: true, ...over.http } });
  const d = await startDaemon(t, config, devices, { clock: opts.clock });
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
