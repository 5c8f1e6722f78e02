/**
 * http-rr: 32 keep-alive HTTP clients doing `POST /request` (32-byte ASCII payloads) to 10
 * echoing objects through the daemon's HTTP API. Baseline: a bare node:http server answering
 * the same body itself, driven by the same client code, interleaved.
 */
import { Child, libScript } from '../lib/child.js';
import { benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import type { HttpLoadArgs, HttpLoadResult } from '../lib/http-load-main.js';
import { makeRow, type Row } from '../lib/report.js';
import { interleave } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

interface HttpSizes {
  readonly objects: number;
  readonly clients: number;
  readonly loadProcs: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly rounds: number;
  readonly maxRequests: number;
}

function sizes(o: ScenarioOptions): HttpSizes {
  const base = { objects: 10, clients: 32, loadProcs: 2, payloadBytes: 32 };
  if (o.smoke) return { ...base, objects: 2, clients: 4, loadProcs: 1, warmupMs: 50, measureMs: 200, rounds: 1, maxRequests: 2_000 };
  if (o.quick) return { ...base, warmupMs: 200, measureMs: 450, rounds: 3, maxRequests: 1_000_000 };
  return { ...base, warmupMs: 500, measureMs: 2_500, rounds: 5, maxRequests: 10_000_000 };
}

/** Combined result of the load processes of one round. */
interface RoundResult {
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly firstError?: string;
  /** CPU (user + system) of the server process (daemon or bare) per answered request, µs. */
  readonly cpuPerRequest: number;
}

async function loadRound(s: HttpSizes, port: number, cpuMicros: () => Promise<number>): Promise<RoundResult> {
  const per = Math.ceil(s.clients / s.loadProcs);
  const children: Child[] = [];
  try {
    for (let p = 0; p < s.loadProcs; p++) {
      const args: HttpLoadArgs = {
        port, clients: Math.min(per, s.clients - p * per), firstClient: p * per, objects: s.objects, payloadBytes: s.payloadBytes,
        warmupMs: s.warmupMs, measureMs: s.measureMs, maxRequests: Math.ceil(s.maxRequests / s.loadProcs),
      };
      children.push(new Child(libScript('http-load-main'), args, { name: `http-load-${p}` }));
    }
    await Promise.all(children.map((c) => c.next('ready', 30_000)));
    const cpu0 = await cpuMicros();
    for (const c of children) c.send({ type: 'go' });
    const rs = await Promise.all(children.map((c) => c.next<HttpLoadResult>('result', s.warmupMs + s.measureMs + 30_000)));
    const cpu = (await cpuMicros()) - cpu0;
    // Latency quantiles: the worst process's (they run the same loop over the same connections' server).
    return {
      perSec: rs.reduce((n, r) => n + r.perSec, 0), p50: Math.max(...rs.map((r) => r.p50)), p99: Math.max(...rs.map((r) => r.p99)),
      errors: rs.reduce((n, r) => n + r.errors, 0), firstError: rs.find((r) => r.firstError)?.firstError,
      cpuPerRequest: cpu / Math.max(1, rs.reduce((n, r) => n + r.answered, 0)),
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(5_000)));
  }
}

function describe(label: string, r: RoundResult): string {
  return `${label}: ${Math.round(r.perSec)} req/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, server CPU ${r.cpuPerRequest.toFixed(1)} µs/request, errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`;
}

export async function httpRr(o: ScenarioOptions): Promise<Row[]> {
  const s = sizes(o);
  const scratch = scratchDir('http-rr');
  const lifeMs = s.rounds * 2 * (s.warmupMs + s.measureMs + 40_000);
  const daemon = await startDaemonProcess(benchConfig({ dir: scratch.dir, objects: s.objects, http: true }), { cpuProfDir: o.cpuProfDir });
  const objects = new Child(libScript('rr-object-main'), {
    mode: 'daemon', host: '127.0.0.1', port: daemon.port, indices: Array.from({ length: s.objects }, (_, i) => i), maxMs: lifeMs,
  }, { name: 'objects' });
  const bare = new Child(libScript('http-bare-main'), {}, { name: 'http-bare' });
  const bareCpu = async (): Promise<number> => {
    bare.send({ type: 'cpu' });
    return (await bare.next<{ type: 'cpu'; micros: number }>('cpu', 10_000)).micros;
  };
  try {
    await objects.next('ready', 30_000);
    const { port: barePort } = await bare.next<{ type: 'ready'; port: number }>('ready', 20_000);
    const { a, b } = await interleave(
      s.rounds,
      async () => {
        const r = await loadRound(s, daemon.httpPort!, () => daemon.cpuMicros());
        o.log(describe('http-rr daemon', r));
        return r;
      },
      async () => {
        const r = await loadRound(s, barePort, bareCpu);
        o.log(describe('http-rr bare  ', r));
        return r;
      },
    );
    const errors = [...a, ...b].reduce((n, r) => n + r.errors, 0);
    const note = `${s.clients} clients in ${s.loadProcs} load process(es), undici Pool, 1 request per connection at a time${errors ? `; ${errors} failed or wrong answers` : ''}`;
    return [
      makeRow('http-rr', 'requests/s', a.map((r) => r.perSec), { kind: 'ratio>=', value: 0.5 }, b.map((r) => r.perSec), note),
      makeRow('http-rr/p99', 'ms', a.map((r) => r.p99), { kind: 'report' }, b.map((r) => r.p99)),
      makeRow('http-rr/server-cpu', 'µs per request', a.map((r) => r.cpuPerRequest), { kind: 'report' }, b.map((r) => r.cpuPerRequest),
        'user + system CPU of the daemon (baseline: the bare server) per answered request; the daemon also pays the object hop'),
    ];
  } finally {
    await Promise.all([daemon.stop(), objects.stop(), bare.stop()]);
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, httpRr);
