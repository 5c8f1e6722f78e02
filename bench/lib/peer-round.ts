/**
 * One request/reply round against any of the peers scenario's systems: the same load shape
 * and loop as tcp-rr (rr.ts), with the load processes of that system's protocol, and the CPU
 * of the broker and of both load processes taken over the round (warm-up, window and drain),
 * divided by the round trips answered in it.
 */
import { Child, libScript } from './child.js';
import type { Broker, System } from './peer-brokers.js';
import { procCpuMicros } from './proc-stat.js';
import type { CentralArgs, CentralResult } from './rr-central-main.js';
import type { RrSizes } from './rr.js';

/** What a peer device process is given (rr-object-main takes the same, plus its mode). */
export interface DeviceArgs {
  readonly host: string;
  readonly port: number;
  readonly indices: readonly number[];
  readonly payloadBytes: number;
  /** Hard bound on this process's life. */
  readonly maxMs: number;
}

export interface PeerRound {
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  /** Round trips answered over the whole round (warm-up and drain included): what the CPU figures divide by. */
  readonly answered: number;
  /** Broker CPU per round trip, µs (= ms per 1 000 round trips). */
  readonly brokerUsPerRt: number;
  /** Central + device processes' CPU per round trip, µs. */
  readonly loadUsPerRt: number;
  readonly errors: number;
  readonly unanswered: number;
}

const SCRIPTS: Readonly<Record<System, { central: string; device: string }>> = {
  daemon: { central: 'rr-central-main', device: 'rr-object-main' },
  nats: { central: 'nats-central-main', device: 'nats-device-main' },
  mosquitto: { central: 'mqtt-central-main', device: 'mqtt-device-main' },
  aedes: { central: 'mqtt-central-main', device: 'mqtt-device-main' },
};

/** A system's device process, connected once for all of its rounds (their sessions stay open between rounds). */
export interface Devices {
  readonly child: Child;
  stop(): Promise<void>;
}

export async function startDevices(broker: Broker, s: RrSizes, maxMs: number): Promise<Devices> {
  const args: DeviceArgs & { mode: 'daemon' } = {
    mode: 'daemon', host: '127.0.0.1', port: broker.port, indices: Array.from({ length: s.objects }, (_, i) => i), payloadBytes: s.payloadBytes, maxMs,
  };
  const child = new Child(libScript(SCRIPTS[broker.system].device), args, { name: `${broker.system}-devices` });
  try {
    await child.next('ready', 30_000);
  } catch (err) {
    await child.stop(1_000);
    throw err;
  }
  return { child, stop: () => child.stop(5_000) };
}

export async function peerRound(broker: Broker, devices: Devices, s: RrSizes, inFlight: number): Promise<PeerRound> {
  const args: CentralArgs = {
    mode: 'daemon', host: '127.0.0.1', port: broker.port, objects: s.objects, inFlight, payloadBytes: s.payloadBytes,
    warmupMs: s.warmupMs, measureMs: s.measureMs, maxRequests: s.maxRequests,
  };
  const central = new Child(libScript(SCRIPTS[broker.system].central), args, { name: `${broker.system}-central` });
  const devicesPid = devices.child.proc.pid!;
  try {
    await central.next('ready', 30_000);
    const broker0 = await broker.cpuMicros();
    const devices0 = procCpuMicros(devicesPid);
    central.send({ type: 'go' });
    const r = await central.next<CentralResult>('result', s.warmupMs + s.measureMs + 30_000);
    const brokerUs = (await broker.cpuMicros()) - broker0;
    const devicesUs = procCpuMicros(devicesPid) - devices0;
    const answered = r.sent - r.outstandingAtEnd;
    return {
      perSec: r.perSec, p50: r.p50, p99: r.p99, answered,
      brokerUsPerRt: brokerUs / answered, loadUsPerRt: (r.cpuMicros + devicesUs) / answered,
      errors: r.errors, unanswered: r.outstandingAtEnd,
    };
  } finally {
    await central.stop(5_000);
  }
}
