import t from 'tap';
import { formatPeerTable } from '../../bench/lib/peer-table.js';
import { missing, SYSTEMS, type System } from '../../bench/lib/peer-brokers.js';

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
