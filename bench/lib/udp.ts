import { readFile } from 'node:fs/promises';
import dgram from 'node:dgram';
import { Child, libScript } from './child.js';
import type { DaemonProcess } from './daemon-process.js';
import type { UdpSenderArgs, UdpSenderResult } from './udp-sender-main.js';

export interface UdpSizes {
  readonly objects: number;
  /** Sender processes; the objects are spread over them. */
  readonly senderProcs: number;
  /** Datagrams per second, all objects together. */
  readonly rate: number;
  readonly durationMs: number;
  readonly payloadBytes: number;
  readonly rounds: number;
  /** A first, unmeasured round at the same rate on the fresh daemon (JIT, webhook pool); 0: none. */
  readonly warmupMs: number;
}

/** Where delivered telemetry is counted: the central's session or the webhook receiver. */
export interface TelemetrySink {
  /** Items counted so far (cumulative). */
  count(): Promise<number>;
}

export interface UdpRoundResult {
  readonly sent: number;
  readonly delivered: number;
  /** Datagrams per second the senders achieved (their total over their slowest's duration). */
  readonly sendRate: number;
  /** Drops counted by the kernel on the daemon's UDP socket (/proc/net/udp), this round. */
  readonly kernelDrops: number;
  readonly sendErrors: number;
  /** Daemon CPU time (user + system) per datagram sent, µs: steadier than rates on a shared machine. */
  readonly cpuPerDatagram: number;
}

/** The kernel's drop count for the UDP socket bound to 127.0.0.1:`port`; NaN when unreadable. */
export async function kernelDrops(port: number): Promise<number> {
  try {
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const line = (await readFile('/proc/net/udp', 'utf8')).split('\n').find((l) => l.trim().split(/\s+/)[1] === local);
    return line ? Number(line.trim().split(/\s+/).at(-1)) : NaN;
  } catch {
    return NaN;
  }
}

/** What the kernel grants a UDP socket asking for `bytes` (Linux reports twice the usable size). */
export async function grantedRecvBuffer(bytes: number): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: bytes });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const n = s.getRecvBufferSize();
  s.close();
  return n;
}

/**
 * One round: fork the senders (each opens its objects' sessions and waits for their tokens),
 * send, then wait until the sink has counted every datagram or has been still for `settleMs`.
 */
export async function udpRound(daemon: DaemonProcess, s: UdpSizes, sink: TelemetrySink, settleMs: number): Promise<UdpRoundResult> {
  const procs = Math.max(1, Math.min(s.senderProcs, s.objects));
  const lifeMs = s.durationMs * 3 + settleMs + 60_000;
  const senders: Child[] = [];
  try {
    for (let p = 0; p < procs; p++) {
      const indices = Array.from({ length: s.objects }, (_, i) => i).filter((i) => i % procs === p);
      const args: UdpSenderArgs = {
        port: daemon.port, udpPort: daemon.udpPort!, indices, ratePerSec: (s.rate * indices.length) / s.objects,
        durationMs: s.durationMs, payloadBytes: s.payloadBytes, maxMs: lifeMs,
      };
      senders.push(new Child(libScript('udp-sender-main'), args, { name: `udp-sender-${p}` }));
    }
    await Promise.all(senders.map((c) => c.next('ready', 30_000)));
    const before = await sink.count();
    const dropsBefore = await kernelDrops(daemon.udpPort!);
    const cpuBefore = await daemon.cpuMicros();
    for (const c of senders) c.send({ type: 'go' });
    const rs = await Promise.all(senders.map((c) => c.next<UdpSenderResult>('sent', s.durationMs * 3 + 10_000)));
    const sent = rs.reduce((n, r) => n + r.sent, 0);
    let delivered = (await sink.count()) - before;
    let last = delivered;
    let stillSince = performance.now();
    const deadline = performance.now() + settleMs + 10_000;
    while (delivered < sent && performance.now() - stillSince < settleMs && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      delivered = (await sink.count()) - before;
      if (delivered !== last) [last, stillSince] = [delivered, performance.now()];
    }
    return {
      cpuPerDatagram: ((await daemon.cpuMicros()) - cpuBefore) / sent,
      sent, delivered, sendRate: sent / (Math.max(...rs.map((r) => r.ms)) / 1000),
      kernelDrops: (await kernelDrops(daemon.udpPort!)) - dropsBefore, sendErrors: rs.reduce((n, r) => n + r.sendErrors, 0),
    };
  } finally {
    await Promise.all(senders.map((c) => c.stop(5_000)));
  }
}

export function describeUdpRound(label: string, r: UdpRoundResult): string {
  return `${label}: sent ${r.sent} at ${Math.round(r.sendRate)}/s, delivered ${r.delivered} (${((100 * r.delivered) / r.sent).toFixed(2)} %), kernel drops ${r.kernelDrops}, send errors ${r.sendErrors}, daemon CPU ${r.cpuPerDatagram.toFixed(2)} µs/datagram`;
}
