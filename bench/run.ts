/**
 * The benchmark suite's single entry: `node dist/bench/run.js [--quick] [--object-procs N]
 * [--cpu-prof DIR] [scenario...]`. Prints a table, then one JSON line per figure.
 * To add a scenario: one file in bench/scenarios/ exporting a Scenario, one line below.
 */
import { clusterRr } from './scenarios/cluster-rr.js';
import { codec } from './scenarios/codec.js';
import { httpRr } from './scenarios/http-rr.js';
import { redisEngine } from './scenarios/redis-engine.js';
import { sessions } from './scenarios/sessions.js';
import { tcpRr } from './scenarios/tcp-rr.js';
import { tcpRrLatency } from './scenarios/tcp-rr-latency.js';
import { tcpRrTls } from './scenarios/tcp-rr-tls.js';
import { udp } from './scenarios/udp.js';
import { udpWebhook } from './scenarios/udp-webhook.js';
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
  ['cluster-rr', clusterRr],
  ['redis-engine', redisEngine],
  ['workers-rr', workersRr],
];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = args.names.filter((n) => !SCENARIOS.some(([k]) => k === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map(([k]) => k).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const selected = SCENARIOS.filter(([k]) => args.names.length === 0 || args.names.includes(k));
  const rows: Row[] = [];
  const log = (m: string) => process.stderr.write(`  ${m}\n`);
  const started = performance.now();
  for (const [name, scenario] of selected) {
    const t0 = performance.now();
    process.stderr.write(`# ${name}${args.quick ? ' (quick)' : ''}\n`);
    try {
      rows.push(...await scenario({ quick: args.quick, cpuProfDir: args.cpuProfDir, objectProcs: args.objectProcs, log }));
    } catch (err) {
      process.stderr.write(`  ${name} FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
    process.stderr.write(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  process.stderr.write(`# total ${((performance.now() - started) / 1000).toFixed(1)} s\n\n`);
  printRows(rows);
}

void main();
