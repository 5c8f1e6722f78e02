/** codec: parse and encode of each transmission type, in-process, pure codec (no sockets). */
import { objectKey, objectUid } from '../lib/config.js';
import { makeRow, type Row } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { runIfMain, type ScenarioOptions } from '../lib/scenario.js';
import { Format, ToT, TransmissionParser, encodeTransmission, encodeTransmissions, type Transmission } from '../../src/protocol/index.js';

const P32 = { format: Format.BINARY, options: 0, data: Buffer.alloc(32, 0x5a) };

/** One representative of each transmission type, both directions where RTE differs. */
export const SAMPLES: ReadonlyArray<readonly [string, Transmission]> = [
  ['acl-10', { type: ToT.ACL, entries: Array.from({ length: 10 }, (_, i) => ({ uid: objectUid(i), group: 'Bench', key: objectKey(i) })) }],
  ['ping', { type: ToT.PING }],
  ['pong', { type: ToT.PONG }],
  ['request', { type: ToT.REQUEST, tracking: 7, payload: P32 }],
  ['request-rte', { type: ToT.REQUEST, uid: 'o7', tracking: 7, payload: P32 }],
  ['response', { type: ToT.RESPONSE, tracking: 7, code: 0, payload: P32 }],
  ['response-rte', { type: ToT.RESPONSE, uid: 'o7', tracking: 7, code: 0, payload: P32 }],
  ['token', { type: ToT.TOKEN, token: Buffer.alloc(8, 1) }],
  ['telemetry-rte', { type: ToT.TELEMETRY, uid: 'o7', payload: P32 }],
  ['close', { type: ToT.CLOSE, code: 1 }],
];

/** Runs `op` (which does `per` operations) until `budgetMs` or `maxCalls`; returns ops/s. */
function measure(op: () => void, per: number, budgetMs: number, maxCalls: number): number {
  for (let i = 0; i < 50; i++) op(); // warm the JIT
  const start = performance.now();
  let calls = 0;
  let now = start;
  while (calls < maxCalls && now - start < budgetMs) {
    for (let i = 0; i < 16; i++) op();
    calls += 16;
    now = performance.now();
  }
  return (calls * per) / ((now - start) / 1000);
}

export async function codec(o: ScenarioOptions): Promise<Row[]> {
  const budgetMs = o.smoke ? 5 : o.quick ? 50 : 300;
  const rounds = o.smoke ? 1 : 3;
  const batch = 1_000;
  const rows: Row[] = [];
  let sink = 0;
  for (const [name, t] of SAMPLES) {
    const one = encodeTransmission(t);
    const stream = encodeTransmissions(Array.from({ length: batch }, () => t));
    const enc: number[] = [];
    const dec: number[] = [];
    for (let r = 0; r < rounds; r++) {
      enc.push(measure(() => { sink += encodeTransmission(t).length; }, 1, budgetMs, 10_000_000));
      dec.push(measure(() => {
        // A fresh parser per batch, as a new connection would have; a batch is one read.
        new TransmissionParser(1 << 20).push(stream, () => { sink++; });
      }, batch, budgetMs, 1_000_000));
      await new Promise((r) => setImmediate(r));
    }
    const mb = (ops: number) => `${((ops * one.length) / 1e6).toFixed(1)} MB/s, ${one.length} B each`;
    rows.push(makeRow(`codec/${name}/encode`, 'ops/s', enc, { kind: 'report' }, undefined, mb(median(enc))));
    rows.push(makeRow(`codec/${name}/parse`, 'ops/s', dec, { kind: 'report' }, undefined, mb(median(dec))));
  }
  if (sink === -1) o.log('unreachable'); // keeps the work observable to the JIT
  return rows;
}

runIfMain(import.meta.url, codec);
