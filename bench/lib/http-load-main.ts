/**
 * Load child for http-rr: `clients` keep-alive connections (one undici Pool, one request at
 * a time per connection), each looping `POST /request` over the objects in turn. The same
 * code drives the daemon and the bare node:http baseline. Bounded by the window, a request
 * cap, undici's own timeouts and the process lifeline.
 */
import { Pool } from 'undici';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { BENCH_CENTRAL_KEY, objectUid } from './config.js';
import { Reservoir, quantile } from './stats.js';

export interface HttpLoadArgs {
  readonly port: number;
  readonly clients: number;
  /** Index of this process's first client: spreads clients over the objects. */
  readonly firstClient: number;
  readonly objects: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly maxRequests: number;
}

export interface HttpLoadResult {
  readonly type: 'result';
  readonly completed: number;
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  /** Answers that were not `200 {"Code": 0}` with the payload echoed, and failed requests. */
  readonly errors: number;
  readonly firstError?: string;
  /** Requests answered in the whole round, warm-up included. */
  readonly answered: number;
}

const a = childPayload<HttpLoadArgs>();
const text = 'x'.repeat(a.payloadBytes);
const bodies = Array.from({ length: a.objects }, (_, i) => JSON.stringify({ UID: objectUid(i), Payload: text, Format: 'ASCII' }));
const expected = JSON.stringify({ Code: 0, Payload: text, Format: 'ASCII' });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_CENTRAL_KEY.toString('hex')}` };

async function run(): Promise<HttpLoadResult> {
  const pool = new Pool(`http://127.0.0.1:${a.port}`, {
    connections: a.clients, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 15_000, bodyTimeout: 15_000,
  });
  const lat = new Reservoir();
  let sent = 0;
  let completed = 0;
  let answered = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureStart = start + a.warmupMs;
  const measureEnd = measureStart + a.measureMs;
  const client = async (c: number): Promise<void> => {
    let obj = c % a.objects;
    while (sent < a.maxRequests) {
      const t0 = performance.now();
      if (t0 >= measureEnd) return;
      sent++;
      try {
        const res = await pool.request({ method: 'POST', path: '/request', headers, body: bodies[obj] });
        const answer = await res.body.text();
        if (res.statusCode !== 200 || answer !== expected) {
          errors++;
          firstError ??= `${res.statusCode} ${answer.slice(0, 200)}`;
        }
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      answered++;
      const t1 = performance.now();
      if (t0 >= measureStart && t1 <= measureEnd) {
        completed++;
        lat.add(t1 - t0);
      }
      obj = (obj + 1) % a.objects;
    }
  };
  await Promise.all(Array.from({ length: a.clients }, (_, i) => client(a.firstClient + i)));
  await pool.close();
  return { type: 'result', completed, perSec: completed / (a.measureMs / 1000), p50: quantile(lat.values, 0.5), p99: quantile(lat.values, 0.99), errors, firstError, answered };
}

async function main(): Promise<void> {
  lifeline(a.warmupMs + a.measureMs + 60_000);
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  toParent((await run()) as unknown as Msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 100);
}

main().catch(failChild);
