/** tcp-rr-tls: tcp-rr with the central and the objects on TLS; baseline: plain tcp-rr on the same daemon, interleaved. */
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import { makeRow, type Row } from '../lib/report.js';
import { describeRound, interleave, rrProblems, rrRound, rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

export async function tcpRrTls(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const scratch = scratchDir('tcp-rr-tls');
  const certs = await generateSelfSigned({ commonName: 'localhost', days: 2 });
  const daemon = await startDaemonProcess(benchConfig({ dir: scratch.dir, objects: s.objects, tls: certs }), { cpuProfDir: o.cpuProfDir });
  try {
    const common = { ...s, inFlight: 32, objectProcs: o.objectProcs ?? 1, mode: 'daemon' as const, port: daemon.port };
    const { a: tls, b: plain } = await interleave(
      s.rounds,
      async () => {
        const r = await rrRound({ ...common, ca: certs.cert });
        o.log(describeRound('tcp-rr-tls tls  ', r));
        return r;
      },
      async () => {
        const r = await rrRound(common);
        o.log(describeRound('tcp-rr-tls plain', r));
        return r;
      },
    );
    const note = rrProblems([...tls, ...plain]);
    return [
      makeRow('tcp-rr-tls', 'round trips/s', tls.map((r) => r.perSec), { kind: 'ratio>=', value: 0.6 }, plain.map((r) => r.perSec), note),
      makeRow('tcp-rr-tls/p99', 'ms', tls.map((r) => r.p99), { kind: 'report' }, plain.map((r) => r.p99)),
    ];
  } finally {
    await daemon.stop();
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, tcpRrTls);
