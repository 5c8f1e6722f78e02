import t from 'tap';
import { formatPeerTable } from '../../bench/lib/peer-table.js';
import { missing, SYSTEMS, type System } from '../../bench/lib/peer-brokers.js';
import { peerReport } from '../../bench/lib/peer-report.js';
import type { PeerRound } from '../../bench/lib/peer-round.js';

t.test('the peer table: a column per system, ratios of ours to each, a peer that did not run says why', async (t) => {
  const absent = new Map<System, string>([['nats', 'not installed (apt-get install -y nats-server)']]);
  const table = formatPeerTable([
    { name: 'broker CPU per 1 000 round trips', unit: 'ms', values: { daemon: 2, mosquitto: 8, aedes: 16 } },
    { name: 'p50 / p99 under that load', unit: 'ms', values: { daemon: [0.5, 2], mosquitto: [4, 10], aedes: [5, 0] } },
  ], SYSTEMS, absent);
  const lines = table.split('\n');
  t.equal(lines[0], '| figure | this daemon | NATS | Mosquitto | aedes | ours / NATS | ours / Mosquitto | ours / aedes |');
  t.equal(lines[2], '| broker CPU per 1 000 round trips | 2.00 ms | not installed (apt-get install -y nats-server) | 8.00 ms | 16.0 ms | - | 0.25x | 0.13x |');
  // A pair's ratio is its second figure's (the p99); a zero baseline gives no ratio.
  t.equal(lines[3], '| p50 / p99 under that load | 0.50 / 2.00 ms | not installed (apt-get install -y nats-server) | 4.00 / 10.0 ms | 5.00 / 0.00 ms | - | 0.20x | - |');
});

t.test('the daemon and aedes need no binary; a peer binary that is not found is reported with its apt command', async (t) => {
  t.equal(missing('daemon'), undefined);
  t.equal(missing('aedes'), undefined);
  for (const sys of ['nats', 'mosquitto'] as const) {
    const why = missing(sys);
    t.ok(why === undefined || why === `not installed (apt-get install -y ${sys === 'nats' ? 'nats-server' : 'mosquitto'})`, `${sys}: ${why ?? 'installed'}`);
  }
});

t.test('the peer report without NATS: its column and its target say not installed, never a silent skip', async (t) => {
  const round = (brokerUsPerRt: number, p99: number): PeerRound => ({
    perSec: 100_000, p50: p99 / 2, p99, answered: 300_000, brokerUsPerRt, loadUsPerRt: 3, errors: 0, unanswered: 0,
  });
  const why = 'not installed (apt-get install -y nats-server)';
  const ran: System[] = ['daemon', 'mosquitto', 'aedes'];
  const tables: string[] = [];
  const rows = peerReport({
    ran,
    absent: new Map([['nats', why]]),
    loaded: new Map(ran.map((s) => [s, [round(s === 'daemon' ? 2 : 9, 2), round(s === 'daemon' ? 2.2 : 9, 2)]])),
    single: new Map(ran.map((s) => [s, [round(30, s === 'daemon' ? 0.4 : 0.3)]])),
    memory: new Map(ran.map((s) => [s, { rssBefore: 10 * 2 ** 20, kibPerConnection: 4, opened: 100, answered: 100 }])),
  }, (x) => tables.push(x));
  const cpuNats = rows.find((r) => r.scenario === 'peers/broker-cpu/nats')!;
  t.equal(cpuNats.met, false, 'the CPU target against NATS is not met when NATS did not run');
  t.equal(cpuNats.baseline, null);
  t.equal(cpuNats.note, `nats: ${why}`);
  const p99 = rows.find((r) => r.scenario === 'peers/p99-1-in-flight/mosquitto')!;
  t.same([p99.median, p99.baseline, p99.met], [0.4, 0.3, false], 'p99 at 1 in flight judged against Mosquitto');
  t.equal(rows.find((r) => r.scenario === 'peers/broker-cpu/mosquitto')!.ratio, 0.222, 'ours / theirs (medians: nearest rank, 2 of 2 and 2.2)');
  t.match(tables[0], `| broker CPU per 1 000 round trips | 2.00 ms | ${why} | 9.00 ms | 9.00 ms | - | 0.22x | 0.22x |`);
  t.match(tables[0], `- target: daemon CPU per 1 000 round trips <= 0.75x NATS's: ${why}: NOT met`);
});
