/** tcp-rr-latency: tcp-rr with 1 request in flight per object; p50 against the same relay. */
import { makeRow, type Row } from '../lib/report.js';
import { rrProblems } from '../lib/rr.js';
import { runIfMain, type ScenarioOptions } from '../lib/scenario.js';
import { relayVsDaemon } from './tcp-rr.js';

export async function tcpRrLatency(o: ScenarioOptions): Promise<Row[]> {
  const { daemon, relay } = await relayVsDaemon(o, 'tcp-rr-latency', 1);
  const note = rrProblems([...daemon, ...relay]);
  return [
    makeRow('tcp-rr-latency/p50', 'ms', daemon.map((r) => r.p50), { kind: 'ratio<=', value: 1.5 }, relay.map((r) => r.p50), note),
    makeRow('tcp-rr-latency/p99', 'ms', daemon.map((r) => r.p99), { kind: 'report' }, relay.map((r) => r.p99)),
    makeRow('tcp-rr-latency', 'round trips/s', daemon.map((r) => r.perSec), { kind: 'report' }, relay.map((r) => r.perSec)),
  ];
}

runIfMain(import.meta.url, tcpRrLatency);
