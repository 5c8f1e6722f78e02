import { Child, libScript } from './child.js';
import type { CentralArgs, CentralResult } from './rr-central-main.js';

/** The central's arguments (on loopback), plus how many processes carry the objects. */
export interface RrRoundOptions extends Omit<CentralArgs, 'host'> {
  /** Processes the objects are spread over; the central always has its own. */
  readonly objectProcs: number;
  /** Where the objects connect, when not to `port` (cluster-rr: the objects on another node than the central). */
  readonly objectPort?: number;
}

/** One tcp-rr round: fork the object processes and the central, run the window, collect. */
export async function rrRound(o: RrRoundOptions): Promise<CentralResult> {
  const lifeMs = o.warmupMs + o.measureMs + 40_000;
  const objectChildren: Child[] = [];
  const nProcs = Math.max(1, Math.min(o.objectProcs, o.objects));
  for (let p = 0; p < nProcs; p++) {
    const indices = Array.from({ length: o.objects }, (_, i) => i).filter((i) => i % nProcs === p);
    objectChildren.push(new Child(libScript('rr-object-main'), {
      mode: o.mode, host: '127.0.0.1', port: o.objectPort ?? o.port, ca: o.ca, indices, maxMs: lifeMs,
    }, { name: `objects-${p}` }));
  }
  let central: Child | undefined;
  try {
    await Promise.all(objectChildren.map((c) => c.next('ready', 30_000)));
    const { objectProcs: _procs, objectPort: _objectPort, ...rest } = o;
    const args: CentralArgs = { ...rest, host: '127.0.0.1' };
    central = new Child(libScript('rr-central-main'), args, { name: 'central' });
    await central.next('ready', 30_000);
    central.send({ type: 'go' });
    return await central.next<CentralResult>('result', o.warmupMs + o.measureMs + 30_000);
  } finally {
    await Promise.all([...objectChildren, ...(central ? [central] : [])].map((c) => c.stop(5_000)));
  }
}

/** Runs `a` and `b` alternately (ABBA order) so drift in the machine hits both alike. */
export async function interleave<A, B = A>(rounds: number, a: () => Promise<A>, b: () => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const ra: A[] = [];
  const rb: B[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      ra.push(await a());
      rb.push(await b());
    } else {
      rb.push(await b());
      ra.push(await a());
    }
  }
  return { a: ra, b: rb };
}

/** Runs each of `fns` once per round, in an order reversed every other round, so drift hits all alike. */
export async function interleaveAll<A>(rounds: number, fns: ReadonlyArray<() => Promise<A>>): Promise<A[][]> {
  const out = fns.map(() => [] as A[]);
  for (let r = 0; r < rounds; r++) {
    const order = fns.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) out[i]!.push(await fns[i]!());
  }
  return out;
}

export interface RrSizes {
  readonly objects: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly rounds: number;
  readonly maxRequests: number;
}

/** The sizes (10 objects, 32-byte payloads); quick and smoke only shorten the windows. */
export function rrSizes(o: { quick: boolean; smoke?: boolean }): RrSizes {
  if (o.smoke) return { objects: 2, payloadBytes: 32, warmupMs: 50, measureMs: 200, rounds: 1, maxRequests: 5_000 };
  if (o.quick) return { objects: 10, payloadBytes: 32, warmupMs: 200, measureMs: 450, rounds: 3, maxRequests: 5_000_000 };
  return { objects: 10, payloadBytes: 32, warmupMs: 500, measureMs: 3_000, rounds: 5, maxRequests: 50_000_000 };
}

export function describeRound(label: string, r: CentralResult): string {
  return `${label}: ${Math.round(r.perSec)} rt/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, errors ${r.errors}, left ${r.outstandingAtEnd}`;
}

/** Codes other than 0x00 or requests never answered: a figure that cannot be trusted. */
export function rrProblems(rs: readonly CentralResult[]): string | undefined {
  const errors = rs.reduce((n, r) => n + r.errors, 0);
  const left = rs.reduce((n, r) => n + r.outstandingAtEnd, 0);
  return errors || left ? `${errors} non-0x00 responses, ${left} unanswered` : undefined;
}
