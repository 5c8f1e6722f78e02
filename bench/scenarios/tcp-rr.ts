/**
 * tcp-rr: one central session, 10 objects, 32 requests in flight per object, 32-byte payloads,
 * objects echo. Baseline: the fixed-record byte relay carrying the same traffic, interleaved.
 */
import { Child, libScript } from '../lib/child.js';
import { benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import { makeRow, type Row } from '../lib/report.js';
import { describeRound, interleave, rrProblems, rrRound, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

export async function relayVsDaemon(o: ScenarioOptions, name: string, inFlight: number): Promise<{ daemon: import('../lib/rr-central-main.js').CentralResult[]; relay: import('../lib/rr-central-main.js').CentralResult[] }> {
  const s = rrSizes(o);
  const scratch = scratchDir(name);
  const daemon = await startDaemonProcess(benchConfig({ dir: scratch.dir, objects: s.objects }), { cpuProfDir: o.cpuProfDir });
  const relay = new Child(libScript('relay-main'), { payloadBytes: s.payloadBytes }, { name: 'relay' });
  try {
    const { port: relayPort } = await relay.next<{ type: 'ready'; port: number }>('ready', 20_000);
    const common = { ...s, inFlight, objectProcs: o.objectProcs ?? 1 };
    const { a, b } = await interleave(
      s.rounds,
      async () => {
        const r = await rrRound({ ...common, mode: 'daemon', port: daemon.port });
        o.log(describeRound(`${name} daemon`, r));
        return r;
      },
      async () => {
        const r = await rrRound({ ...common, mode: 'relay', port: relayPort });
        o.log(describeRound(`${name} relay `, r));
        return r;
      },
    );
    return { daemon: a, relay: b };
  } finally {
    await Promise.all([daemon.stop(), relay.stop()]);
    scratch.cleanup();
  }
}

export async function tcpRr(o: ScenarioOptions): Promise<Row[]> {
  const { daemon, relay } = await relayVsDaemon(o, 'tcp-rr', 32);
  const note = rrProblems([...daemon, ...relay]);
  return [
    // Issue 14's targets (issue 11's floor was 0.5× and 3×).
    makeRow('tcp-rr', 'round trips/s', daemon.map((r) => r.perSec), { kind: 'ratio>=', value: 0.8 }, relay.map((r) => r.perSec), note),
    makeRow('tcp-rr/p99', 'ms', daemon.map((r) => r.p99), { kind: 'ratio<=', value: 2 }, relay.map((r) => r.p99)),
    makeRow('tcp-rr/p50', 'ms', daemon.map((r) => r.p50), { kind: 'report' }, relay.map((r) => r.p50)),
  ];
}

runIfMain(import.meta.url, tcpRr);
