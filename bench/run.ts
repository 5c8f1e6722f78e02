/**
 * The benchmark suite's single entry: `node dist/bench/run.js [--quick] [--object-procs N]
 * [--cpu-prof DIR] [--hold-sec S] [--install-peers] [scenario...]`. Prints a table, then one JSON line per figure.
 * To add a scenario: one file in bench/scenarios/ exporting a Scenario, one line below.
 */
import { clusterRr } from './scenarios/cluster-rr.js';
import { clusterSessions } from './scenarios/cluster-sessions.js';
import { codec } from './scenarios/codec.js';
import { handshakes } from './scenarios/handshakes.js';
import { httpRr } from './scenarios/http-rr.js';
import { peers } from './scenarios/peers.js';
import { redisEngine } from './scenarios/redis-engine.js';
import { sessions } from './scenarios/sessions.js';
import { tcpRr } from './scenarios/tcp-rr.js';
import { tcpRrLatency } from './scenarios/tcp-rr-latency.js';
import { tcpRrTls } from './scenarios/tcp-rr-tls.js';
import { udp } from './scenarios/udp.js';
import { udpWebhook } from './scenarios/udp-webhook.js';
import { installPeers } from './lib/install-peers.js';
import { workersRr } from './scenarios/workers-rr.js';
import type { Row } from './lib/report.js';
import { parseArgs, printRows, type Scenario } from './lib/scenario.js';

const SCENARIOS: ReadonlyArray<readonly [string, Scenario]> = [
  ['codec', codec],
  ['tcp-rr', tcpRr],
  ['tcp-rr-latency', tcpRrLatency],
  ['tcp-rr-tls', tcpRrTls],
  ['http-rr', httpRr],
  ['udp', udp],
  ['udp-webhook', udpWebhook],
  ['sessions', sessions],
  ['handshakes', handshakes],
  ['cluster-rr', clusterRr],
  ['redis-engine', redisEngine],
  ['cluster-sessions', clusterSessions],
  ['peers', peers],
  ['workers-rr', workersRr],
];

/** Run only when named: cluster-sessions takes several minutes at full size (100 000 sessions). */
const NAMED_ONLY: ReadonlySet<string> = new Set(['cluster-sessions']);

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.installPeers) {
    if (!installPeers()) process.exitCode = 1;
    // Alone, the flag only installs; with scenario names it installs, then runs them.
    if (args.names.length === 0 || process.exitCode) return;
  }
  const unknown = args.names.filter((n) => !SCENARIOS.some(([k]) => k === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map(([k]) => k).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const selected = SCENARIOS.filter(([k]) => (args.names.length === 0 ? !NAMED_ONLY.has(k) : args.names.includes(k)));
  const rows: Row[] = [];
  const tables: string[] = [];
  const log = (m: string) => process.stderr.write(`  ${m}\n`);
  const started = performance.now();
  for (const [name, scenario] of selected) {
    const t0 = performance.now();
    process.stderr.write(`# ${name}${args.quick ? ' (quick)' : ''}\n`);
    try {
      rows.push(...await scenario({ quick: args.quick, cpuProfDir: args.cpuProfDir, objectProcs: args.objectProcs, holdSec: args.holdSec, log, table: (t) => tables.push(t) }));
    } catch (err) {
      process.stderr.write(`  ${name} FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
    process.stderr.write(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  process.stderr.write(`# total ${((performance.now() - started) / 1000).toFixed(1)} s\n\n`);
  printRows(rows, tables);
}

void main();
