import t, { type Test } from 'tap';
import { INSTALL_PEERS, missing } from '../../bench/lib/peer-brokers.js';
import type { Row } from '../../bench/lib/report.js';
import { peers } from '../../bench/scenarios/peers.js';

// smoke.test.ts's kind of test, in a file of its own so that it has its own time budget (tap's
// per-file timeout) and runs beside the other smoke tests. Completes and reports numbers; no
// timing assertions. The children run from dist/, so this needs `npm run build` first.
const opts = { quick: true, smoke: true, log: () => {} };

function reportsNumbers(t: Test, rows: Row[], names: string[]): void {
  for (const n of names) {
    const r = rows.find((x) => x.scenario === n);
    t.ok(r, `${n} reported`);
    t.ok(r && Number.isFinite(r.median) && r.median > 0, `${n} has a positive median`);
    t.ok(r && r.rounds.length >= 1, `${n} has rounds`);
  }
}

t.test('one tiny peers round per system: this daemon, nats-server, mosquitto and aedes side by side', async (t) => {
  // The peers must be installed (.ci/run installs them): a missing one fails here, never skips.
  for (const sys of ['nats', 'mosquitto'] as const) t.equal(missing(sys), undefined, `${sys} installed (else: ${INSTALL_PEERS})`);
  const tables: string[] = [];
  const rows = await peers({ ...opts, table: (x: string) => tables.push(x) });
  for (const peer of ['nats', 'mosquitto', 'aedes']) {
    reportsNumbers(t, rows, [`peers/broker-cpu/${peer}`, `peers/p99/${peer}`, `peers/p99-1-in-flight/${peer}`, `peers/load-cpu/${peer}`]);
    // /proc counts CPU in 10 ms ticks: a peer may show 0 over a tiny round. 50 idle connections may not move RSS either.
    for (const figure of ['broker-cpu', 'rss-per-connection', 'rss-at-start']) {
      const r = rows.find((x) => x.scenario === `peers/${figure}/${peer}`);
      t.ok(r && Number.isFinite(r.median) && r.baseline !== null && Number.isFinite(r.baseline), `${peer}: ${figure} measured for both`);
    }
    t.equal(rows.find((r) => r.scenario === `peers/broker-cpu/${peer}`)?.note, undefined, `every ${peer} request answered with its payload`);
  }
  t.equal(tables.length, 1, 'the peer table printed');
  t.match(tables[0], /\| figure \| this daemon \| NATS \| Mosquitto \| aedes \|/, 'a column per system');
  t.match(tables[0], /target: daemon CPU per 1 000 round trips <= 0.75x NATS's: [\d.]+ \/ [\d.]+ = [\d.]+x: (met|NOT met)/, 'the CPU target judged');
  t.notMatch(tables[0], /not installed/, 'no peer column left empty');
});
