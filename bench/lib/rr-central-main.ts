/**
 * Load child: the tcp-rr central. Keeps `inFlight` requests outstanding per object (tracking
 * number = slot), measures round trips completed inside the window and their latency.
 * Bounded by `maxRequests` and by the window plus a drain deadline.
 */
import type { Duplex } from 'node:stream';
import { BENCH_CENTRAL_KEY, objectUid } from './config.js';
import { Format, ToT, TransmissionParser, encodeTransmissions, type Transmission } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { CLOSE_MAINTENANCE, connectSession, type TargetMode } from './connect.js';
import { Reservoir, quantile } from './stats.js';

export interface CentralArgs {
  readonly mode: TargetMode;
  readonly host: string;
  readonly port: number;
  readonly ca?: string;
  readonly objects: number;
  readonly inFlight: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly maxRequests: number;
}

export interface CentralResult {
  readonly type: 'result';
  readonly completed: number;
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly errors: number;
  readonly sent: number;
  readonly outstandingAtEnd: number;
  /** This process's CPU (user + system, µs) from the first request to the end of the drain: the load side's cost (peers scenario). */
  readonly cpuMicros: number;
}

const DRAIN_MS = 10_000;
const a = childPayload<CentralArgs>();
const uids = Array.from({ length: a.objects }, (_, i) => objectUid(i));
const indexOf = new Map(uids.map((u, i) => [u, i]));
const payload = { format: Format.BINARY, options: 0, data: Buffer.alloc(a.payloadBytes, 0x5a) };

async function run(socket: Duplex, rest: Buffer): Promise<CentralResult> {
  const slots = a.objects * a.inFlight;
  const sentAt = new Float64Array(slots);
  const lat = new Reservoir();
  const parser = new TransmissionParser(1 << 20);
  let sent = 0;
  let outstanding = 0;
  let completed = 0;
  let errors = 0;
  let latSum = 0;
  let now = performance.now();
  const start = now;
  const measureStart = start + a.warmupMs;
  const measureEnd = measureStart + a.measureMs;
  let out: Transmission[] = [];
  const cpu0 = process.cpuUsage();

  const request = (obj: number, slot: number): void => {
    sentAt[obj * a.inFlight + slot] = now;
    out.push({ type: ToT.REQUEST, uid: uids[obj], tracking: slot, payload });
    sent++;
    outstanding++;
  };
  const flush = (): void => {
    if (out.length === 0) return;
    socket.write(encodeTransmissions(out));
    out = [];
  };
  const onT = (t: Transmission): void => {
    if (t.type !== ToT.RESPONSE) return;
    const obj = indexOf.get(t.uid!)!;
    outstanding--;
    if (t.code !== 0) errors++;
    if (now >= measureStart && now <= measureEnd) {
      const ms = now - sentAt[obj * a.inFlight + t.tracking]!;
      completed++;
      latSum += ms;
      lat.add(ms);
    }
    if (now < measureEnd && sent < a.maxRequests) request(obj, t.tracking);
  };

  return new Promise<CentralResult>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(tick);
      socket.off('data', onData);
      const cpu = process.cpuUsage(cpu0);
      resolve({
        type: 'result', completed, perSec: completed / (a.measureMs / 1000), p50: quantile(lat.values, 0.5), p99: quantile(lat.values, 0.99),
        mean: completed ? latSum / completed : NaN, errors, sent, outstandingAtEnd: outstanding,
        cpuMicros: cpu.user + cpu.system,
      });
    };
    const onData = (chunk: Buffer): void => {
      now = performance.now();
      const err = parser.push(chunk, onT);
      if (err) return reject(err);
      flush();
      // Done at the window's end, or once a bounded load (maxRequests) is all answered (fixed-rr).
      if (outstanding === 0 && (now >= measureEnd || sent >= a.maxRequests)) finish();
    };
    // The time bound holds even if no byte ever comes back.
    const tick = setInterval(() => {
      const t = performance.now();
      if ((t >= measureEnd && outstanding === 0) || t >= measureEnd + DRAIN_MS) finish();
    }, 50);
    socket.on('data', onData);
    socket.on('error', reject);
    if (rest.length > 0) onData(rest);
    socket.resume();
    for (let obj = 0; obj < a.objects; obj++) for (let s = 0; s < a.inFlight; s++) request(obj, s);
    flush();
  });
}

async function main(): Promise<void> {
  lifeline(a.warmupMs + a.measureMs + DRAIN_MS + 60_000);
  const { socket, rest } = await connectSession({ mode: a.mode, host: a.host, port: a.port, uid: '', key: BENCH_CENTRAL_KEY, ca: a.ca });
  socket.pause();
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  const result = await run(socket, rest);
  if (a.mode === 'daemon') socket.end(CLOSE_MAINTENANCE);
  else socket.end();
  toParent(result as unknown as Msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 200);
}

main().catch(failChild);
