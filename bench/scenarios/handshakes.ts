/**
 * handshakes: the sessions scenario's opening phase alone, over a bounded number of sessions
 * (5 000 plain, 1 500 TLS per round), reported as CPU per handshake: the daemon's and the
 * load processes'. On a shared machine these hold where handshakes/s do not (issue 14's
 * targets, 10 000/s plain and 1 500/s TLS on one core: ≤ 100 µs and ≤ about 650 µs).
 * `--cpu-prof DIR` profiles the measured daemons.
 */
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { makeRow, type Row } from '../lib/report.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';
import { freshRound, type PhaseRound } from './sessions.js';

/** µs of CPU per established session: a share of a core (%) over a rate (per s). */
const perHandshake = (cpuPercent: number, r: PhaseRound): number => (r.opened > 0 ? (cpuPercent * 1e4) / r.perSec : NaN);
const loadCpu = (r: PhaseRound): number => r.loadCpu.reduce((a, b) => a + b, 0);

export async function handshakes(o: ScenarioOptions): Promise<Row[]> {
  const nPlain = o.smoke ? 50 : o.quick ? 2_000 : 5_000;
  const nTls = o.smoke ? 20 : o.quick ? 600 : 1_500;
  const rounds = o.smoke ? 1 : o.quick ? 2 : 5;
  const scratch = scratchDir('handshakes');
  const certs = await generateSelfSigned({ commonName: 'localhost', days: 2 });
  try {
    const objects = Math.max(nPlain, nTls);
    const plain: PhaseRound[] = [];
    const tls: PhaseRound[] = [];
    // Interleaved, plain then TLS each round: a change in the machine's load hits both.
    for (let r = 0; r < rounds; r++) {
      plain.push(await freshRound(scratch.dir, objects, certs, nPlain, 2, false, o));
      tls.push(await freshRound(scratch.dir, objects, certs, nTls, 2, true, o));
    }
    const rows = (kind: string, n: number, rs: PhaseRound[], daemonTarget: number): Row[] => [
      makeRow(`handshakes/${kind}/daemon-cpu`, 'µs/handshake', rs.map((r) => perHandshake(r.daemonCpu, r)), { kind: 'abs<=', value: daemonTarget }, undefined,
        `${n} sessions a round, fresh daemon; ${rs.map((r) => r.opened).join('/')} opened, ${rs.map((r) => r.failed).join('/')} failed`),
      makeRow(`handshakes/${kind}/load-cpu`, 'µs/handshake', rs.map((r) => perHandshake(loadCpu(r), r)), { kind: 'report' }, undefined, '2 load processes, summed'),
      makeRow(`handshakes/${kind}/rate`, 'per s', rs.map((r) => r.perSec), { kind: 'report' }, undefined, 'wall clock: noisy on a shared machine'),
    ];
    return [...rows('plain', nPlain, plain, 100), ...rows('tls', nTls, tls, 650)];
  } finally {
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, handshakes);
