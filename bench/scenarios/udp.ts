/**
 * udp: 10 objects send telemetry datagrams at 100 000/s in total for 10 s; the central's TCP
 * session counts what arrives as Identified telemetry (ToT 6). Baseline: the datagrams sent.
 */
import { Child, libScript } from '../lib/child.js';
import { BENCH_UDP_RECV_BUFFER_BYTES, benchConfig } from '../lib/config.js';
import { startDaemonProcess, type DaemonCounter } from '../lib/daemon-process.js';
import { makeRow, type Row } from '../lib/report.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';
import type { TelemetryCentralArgs } from '../lib/telemetry-central-main.js';
import { describeUdpRound, grantedRecvBuffer, udpRound, type UdpRoundResult, type UdpSizes } from '../lib/udp.js';

function sizes(o: ScenarioOptions): UdpSizes {
  const base = { objects: 10, senderProcs: 2, rate: 100_000, payloadBytes: 32 };
  if (o.smoke) return { ...base, objects: 2, senderProcs: 1, rate: 2_000, durationMs: 200, rounds: 1, warmupMs: 0 };
  if (o.quick) return { ...base, durationMs: 1_000, rounds: 3, warmupMs: 500 };
  return { ...base, durationMs: 10_000, rounds: 3, warmupMs: 1_000 };
}

/** Telemetry counters of the daemon, one line (where the missing datagrams went). */
export function describeCounters(cs: readonly DaemonCounter[]): string {
  return cs.filter((c) => !c.name.includes('duration')).flatMap((c) => c.values.map((v) => `${c.name.replace(/^iotsocket_/, '')}{${Object.values(v.labels).join(',')}}=${v.value}`)).join(' ');
}

/** Rows shared by udp and udp-webhook. */
export function udpRows(name: string, s: UdpSizes, rs: readonly UdpRoundResult[], note: string, warm?: UdpRoundResult): Row[] {
  const rateShort = rs.some((r) => r.sendRate < s.rate * 0.95);
  return [
    ...(warm ? [makeRow(`${name}/warm-up`, 'delivered share', [warm.delivered / warm.sent], { kind: 'report' }, undefined,
      `${s.warmupMs} ms at the full rate on the fresh daemon, not in the rounds: ${warm.sent} sent, ${warm.delivered} delivered`)] : []),
    makeRow(name, 'datagrams delivered', rs.map((r) => r.delivered), { kind: 'ratio>=', value: 0.99 }, rs.map((r) => r.sent),
      `${note}${rateShort ? `; the senders reached only ${Math.round(Math.min(...rs.map((r) => r.sendRate)))}/s of ${s.rate}/s in some round` : ''}`),
    makeRow(`${name}/send-rate`, 'datagrams/s', rs.map((r) => r.sendRate), { kind: 'report' }),
    makeRow(`${name}/kernel-drops`, 'datagrams', rs.map((r) => r.kernelDrops), { kind: 'report' }),
    makeRow(`${name}/daemon-cpu`, 'µs per datagram', rs.map((r) => r.cpuPerDatagram), { kind: 'report' }, undefined, 'user + system CPU of the daemon process over the round, settle included'),
  ];
}

export async function udp(o: ScenarioOptions): Promise<Row[]> {
  const s = sizes(o);
  const scratch = scratchDir('udp');
  // A sysadmin expecting 10 000/s per object lifts the per-token cap above it and the buffer.
  const udpConf = { maxPerSecPerToken: 2 * (s.rate / s.objects), recvBufferBytes: BENCH_UDP_RECV_BUFFER_BYTES };
  const daemon = await startDaemonProcess(benchConfig({ dir: scratch.dir, objects: s.objects, udp: udpConf }), { cpuProfDir: o.cpuProfDir });
  try {
    const granted = await grantedRecvBuffer(udpConf.recvBufferBytes);
    o.log(`udp: receive buffer asked ${udpConf.recvBufferBytes}, kernel grants ${granted} (reported doubled)${granted < 2 * udpConf.recvBufferBytes ? '; capped by net.core.rmem_max: raise it (sysctl -w net.core.rmem_max=134217728)' : ''}`);
    const rounds: UdpRoundResult[] = [];
    let warm: UdpRoundResult | undefined;
    for (let r = s.warmupMs > 0 ? -1 : 0; r < s.rounds; r++) {
      const args: TelemetryCentralArgs = { port: daemon.port, payloadBytes: s.payloadBytes, maxMs: s.durationMs * 3 + 90_000 };
      const central = new Child(libScript('telemetry-central-main'), args, { name: 'central' });
      try {
        await central.next('ready', 30_000);
        const sink = { count: async () => { central.send({ type: 'count' }); return (await central.next<{ telemetry: number }>('count', 10_000)).telemetry; } };
        const res = await udpRound(daemon, r < 0 ? { ...s, durationMs: s.warmupMs } : s, sink, 1_000);
        o.log(describeUdpRound(r < 0 ? 'udp warm-up' : 'udp', res));
        if (r < 0) warm = res;
        else rounds.push(res);
      } finally {
        await central.stop(5_000);
      }
    }
    o.log(`udp daemon counters: ${describeCounters(await daemon.counters())}`);
    const note = `${s.objects} objects in ${s.senderProcs} sender process(es) + 1 central process; SO_RCVBUF granted ${granted / 2} B`;
    return udpRows('udp', s, rounds, note, warm);
  } finally {
    await daemon.stop();
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, udp);
