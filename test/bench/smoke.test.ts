import t, { type Test } from 'tap';
import { codec } from '../../bench/scenarios/codec.js';
import { httpRr } from '../../bench/scenarios/http-rr.js';
import { tcpRr } from '../../bench/scenarios/tcp-rr.js';
import { udp } from '../../bench/scenarios/udp.js';
import { udpWebhook } from '../../bench/scenarios/udp-webhook.js';
import type { Row } from '../../bench/lib/report.js';

// Completes and reports numbers; no timing assertions (timings belong in bench/, never in unit tests).
// The children run from dist/, so this needs `npm run build` first (the test script does it).
const opts = { quick: true, smoke: true, log: () => {} };

function reportsNumbers(t: Test, rows: Row[], names: string[]): void {
  for (const n of names) {
    const r = rows.find((x) => x.scenario === n);
    t.ok(r, `${n} reported`);
    t.ok(r && Number.isFinite(r.median) && r.median > 0, `${n} has a positive median`);
    t.ok(r && r.rounds.length >= 1, `${n} has rounds`);
  }
}

t.test('codec scenario runs in-process and reports ops/s for each type', async (t) => {
  const rows = await codec(opts);
  reportsNumbers(t, rows, ['codec/request/encode', 'codec/request/parse', 'codec/acl-10/parse', 'codec/close/encode']);
});

t.test('one tiny tcp-rr round against the daemon child and the relay child', async (t) => {
  const rows = await tcpRr(opts);
  reportsNumbers(t, rows, ['tcp-rr', 'tcp-rr/p99']);
  const rr = rows.find((r) => r.scenario === 'tcp-rr')!;
  t.ok(rr.baseline !== null && rr.baseline > 0, 'the relay baseline reported');
  t.equal(rr.note, undefined, 'every request answered 0x00');
});

t.test('one tiny http-rr round against the daemon and the bare node:http server', async (t) => {
  const rows = await httpRr(opts);
  reportsNumbers(t, rows, ['http-rr', 'http-rr/p99']);
  const rr = rows.find((r) => r.scenario === 'http-rr')!;
  t.ok(rr.baseline !== null && rr.baseline > 0, 'the bare server baseline reported');
  t.notMatch(rr.note ?? '', /failed or wrong/, 'every request answered Code 0 with its payload');
});

t.test('one tiny udp round: datagrams counted at the central as identified telemetry', async (t) => {
  const rows = await udp(opts);
  reportsNumbers(t, rows, ['udp', 'udp/send-rate']);
  const r = rows.find((x) => x.scenario === 'udp')!;
  t.ok(r.baseline !== null && r.baseline > 0, 'datagrams sent reported');
});

t.test('one tiny udp-webhook round: datagrams counted at the webhook receiver, connections counted', async (t) => {
  const rows = await udpWebhook(opts);
  reportsNumbers(t, rows, ['udp-webhook', 'udp-webhook/connections']);
});
