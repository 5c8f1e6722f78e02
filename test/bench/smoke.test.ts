import t, { type Test } from 'tap';
import { clusterRr } from '../../bench/scenarios/cluster-rr.js';
import { codec } from '../../bench/scenarios/codec.js';
import { httpRr } from '../../bench/scenarios/http-rr.js';
import { redisEngine } from '../../bench/scenarios/redis-engine.js';
import { handshakes } from '../../bench/scenarios/handshakes.js';
import { sessions } from '../../bench/scenarios/sessions.js';
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

t.test('one tiny sessions round of each kind, with the CPU of both sides reported', async (t) => {
  const lines: string[] = [];
  const rows = await sessions({ ...opts, log: (m: string) => lines.push(m) });
  const rounds = lines.filter((l) => l.startsWith('sessions '));
  t.equal(rounds.length, 2, 'one plain and one TLS round logged');
  // The RSS baseline must not come from forced GCs in the measured daemon: they slow its handshakes.
  for (const l of rounds) t.match(l, /forced GCs before opening: 0;/, 'no forced GC in the measured daemon before its opening phase');
  reportsNumbers(t, rows, ['sessions/plain/established', 'sessions/plain/handshakes', 'sessions/plain/daemon-cpu', 'sessions/plain/load-cpu', 'sessions/tls/handshakes', 'sessions/tls/load-cpu']);
  t.equal(rows.find((r) => r.scenario === 'sessions/plain/answering')?.met, true, 'every plain session answered its Ping');
  t.equal(rows.find((r) => r.scenario === 'sessions/tls/answering')?.met, true, 'every TLS session answered its Ping');
});

t.test('one tiny handshakes round of each kind: CPU per handshake of the daemon and of the load', async (t) => {
  const rows = await handshakes(opts);
  reportsNumbers(t, rows, ['handshakes/plain/daemon-cpu', 'handshakes/plain/load-cpu', 'handshakes/tls/daemon-cpu', 'handshakes/tls/load-cpu']);
  for (const kind of ['plain', 'tls']) t.match(rows.find((r) => r.scenario === `handshakes/${kind}/daemon-cpu`)?.note, /, 0 failed$/, `every ${kind} handshake succeeded`);
});

t.test('one tiny cluster-rr round of each kind on two nodes and a real redis-server, with Redis commands counted', async (t) => {
  const lines: string[] = [];
  const rows = await clusterRr({ ...opts, log: (m: string) => lines.push(m) });
  reportsNumbers(t, rows, ['cluster-rr/cross-node', 'cluster-rr/cross-node-p99', 'cluster-rr/cross-node-cpu', 'cluster-rr/cross-node-streams', 'cluster-rr/redis-commands/cross-node', 'cluster-rr/redis-commands/cross-node-streams', 'cluster-rr/redis-used-memory']);
  const rr = rows.find((r) => r.scenario === 'cluster-rr/cross-node')!;
  t.ok(rr.baseline !== null && rr.baseline > 0, 'the same-node baseline reported');
  t.equal(rr.note, undefined, 'every request answered 0x00, on all three paths');
  t.ok(rows.find((r) => r.scenario === 'cluster-rr/redis-commands/same-node')!.median >= 0, 'same-node commands counted');
  t.ok(lines.some((l) => /cross-node: .*Redis: \d+ commands/.test(l)), 'each round logs its Redis commands');
});

t.test('one tiny redis-engine round: a single node with the Redis engine against the in-memory engine', async (t) => {
  const rows = await redisEngine(opts);
  reportsNumbers(t, rows, ['redis-engine', 'redis-engine/p99', 'redis-engine/daemon-cpu', 'redis-engine/redis-commands']);
  const rr = rows.find((r) => r.scenario === 'redis-engine')!;
  t.ok(rr.baseline !== null && rr.baseline > 0, 'the in-memory baseline reported');
  t.equal(rr.note, undefined, 'every request answered 0x00');
});
