/**
 * `node dist/bench/lib/fixed-rr.js [--requests N] [--in-flight K] [--rounds R] [--cpu-prof DIR] [--relay]`:
 * a fixed, bounded tcp-rr load (N round trips, K in flight per object, 10 objects, 32-byte
 * payloads) against one daemon child, and the daemon's own CPU (process.cpuUsage, user +
 * system) over it, divided by the round trips answered. Independent of how loaded the machine
 * is, unlike round trips/s: the figure to compare before and after a change (issue 14).
 * `--systems daemon,nats` runs the peers scenario's loads instead, interleaved. `--relay` measures the byte relay's CPU (from /proc, 10 ms ticks) the same way.
 * `--gc` adds what the collector did in each round (gc-profile.ts): scavenges and bytes allocated per 1 000 round trips, pauses.
 * `--alloc-sites`: the daemon's top allocation sites over each round (V8's sampling heap profiler, freed objects included);
 * `--survivor-sites`: the same for what outlived a scavenge only (what makes a scavenge's pause).
 * `--daemon-flags "--max-semi-space-size=8 …"`: more Node/V8 flags for the daemon (or the relay).
 */
import { Child, libScript } from './child.js';
import { benchConfig } from './config.js';
import { startDaemonProcess } from './daemon-process.js';
import { procCpuSplitMicros } from './proc-stat.js';
import type { GcSummary } from './gc-profile.js';
import { startBroker, type Broker, type System } from './peer-brokers.js';
import { peerRound, startDevices, type Devices } from './peer-round.js';
import { rrRound } from './rr.js';
import { scratchDir } from './scenario.js';
import { quantile } from './stats.js';

function arg(name: string, dflt: string | undefined): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
}

/** `--systems daemon,nats`: the same bounded load on each, rounds interleaved, with the peers scenario's load processes and CPU readings. */
async function peers(systems: readonly System[], requests: number, rounds: number, inFlight: number): Promise<void> {
  const scratch = scratchDir('fixed-rr-peers');
  const s = { objects: 10, payloadBytes: 32, warmupMs: 0, measureMs: 600_000, rounds, maxRequests: requests };
  const brokers: Broker[] = [];
  const devices: Devices[] = [];
  const perRt = new Map<System, number[]>(systems.map((x) => [x, []]));
  try {
    for (const system of systems) {
      const b = await startBroker(system, { dir: scratch.dir, devices: s.objects });
      brokers.push(b);
      devices.push(await startDevices(b, s, 60 * 60_000));
    }
    for (let r = 0; r < rounds; r++) {
      const order = brokers.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) {
        const res = await peerRound(brokers[i]!, devices[i]!, s, inFlight);
        perRt.get(brokers[i]!.system)!.push(res.brokerUsPerRt);
        process.stdout.write(`round ${r} ${brokers[i]!.system}: ${res.answered} answered, errors ${res.errors}, broker ${res.brokerUsPerRt.toFixed(3)} µs per round trip, load ${res.loadUsPerRt.toFixed(3)}, p50 ${res.p50.toFixed(3)} p99 ${res.p99.toFixed(3)} ms\n`);
      }
    }
    for (const [system, xs] of perRt) {
      const sorted = [...xs].sort((a, b) => a - b);
      process.stdout.write(`${system}: median ${quantile(sorted, 0.5).toFixed(3)} µs per round trip (range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)})\n`);
    }
  } finally {
    await Promise.all(devices.map((d) => d.stop()));
    await Promise.all(brokers.map((b) => b.stop()));
    scratch.cleanup();
  }
}

async function main(): Promise<void> {
  const systems = arg('--systems', undefined);
  if (systems) return peers(systems.split(',') as System[], Number(arg('--requests', '200000')), Number(arg('--rounds', '3')), Number(arg('--in-flight', '32')));
  const requests = Number(arg('--requests', '200000'));
  const inFlight = Number(arg('--in-flight', '32'));
  const rounds = Number(arg('--rounds', '3'));
  const cpuProfDir = arg('--cpu-prof', undefined);
  const relay = process.argv.includes('--relay');
  const gc = process.argv.includes('--gc');
  const survivorSites = process.argv.includes('--survivor-sites') && !relay;
  const allocSites = (survivorSites || process.argv.includes('--alloc-sites')) && !relay;
  const flags = (arg('--daemon-flags', '') ?? '').split(/\s+/).filter((f) => f !== '');
  const objects = 10;
  const payloadBytes = 32;
  const scratch = scratchDir('fixed-rr');
  const daemon = relay ? undefined : await startDaemonProcess(benchConfig({ dir: scratch.dir, objects }), { cpuProfDir, execArgv: flags });
  const relayChild = relay ? new Child(libScript('relay-main'), { payloadBytes }, { name: 'relay', execArgv: flags }) : undefined;
  const relayReady = relayChild ? await relayChild.next<{ type: 'ready'; port: number; pid?: number }>('ready', 20_000) : undefined;
  /** [user, system] µs. */
  const cpu = async (): Promise<[number, number]> => {
    if (daemon) {
      const u = await daemon.cpu();
      return [u.user, u.system];
    }
    return procCpuSplitMicros(relayChild!.proc.pid!);
  };
  const gcStart = (): void => {
    if (!gc) return;
    if (daemon) daemon.gcStart();
    else relayChild!.send({ type: 'gc-start' });
  };
  const gcStop = async (): Promise<GcSummary | undefined> => {
    if (!gc) return undefined;
    if (daemon) return daemon.gcStop();
    relayChild!.send({ type: 'gc-stop' });
    return (await relayChild!.next<{ type: 'gc'; summary: GcSummary }>('gc', 30_000)).summary;
  };
  const perRt: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      if (allocSites) await daemon!.allocationStart(survivorSites);
      gcStart();
      const c0 = await cpu();
      const res = await rrRound({
        mode: relay ? 'relay' : 'daemon', port: daemon?.port ?? relayReady!.port, objects, inFlight, payloadBytes,
        warmupMs: 0, measureMs: 600_000, maxRequests: requests, objectProcs: 1,
      });
      const c1 = await cpu();
      const g = await gcStop();
      const a = allocSites ? await daemon!.allocationStop() : undefined;
      const user = c1[0] - c0[0];
      const system = c1[1] - c0[1];
      const answered = res.sent - res.outstandingAtEnd;
      perRt.push((user + system) / answered);
      process.stdout.write(
        `round ${r}: ${answered} answered, errors ${res.errors}, ${((user + system) / answered).toFixed(3)} µs CPU per round trip `
        + `(user ${(user / answered).toFixed(3)}, system ${(system / answered).toFixed(3)}), p50 ${res.p50.toFixed(3)} p99 ${res.p99.toFixed(3)} ms\n`,
      );
      if (g) {
        const k = 1000 / answered;
        process.stdout.write(
          `  gc: ${(g.allocatedBytes / answered).toFixed(0)} bytes allocated per round trip, ${(g.scavenges * k).toFixed(3)} scavenges per 1 000 round trips `
          + `(${g.scavenges}, pause median ${g.medianScavengeUs.toFixed(0)} µs, mean ${(g.scavengeUs / Math.max(1, g.scavenges)).toFixed(0)}, longest ${g.maxScavengeUs.toFixed(0)}, `
          + `new space ${(g.newSpaceBytes / 1048576).toFixed(1)} MiB, `
          + `${(g.survivedPerScavenge / 1024).toFixed(0)} KiB surviving each), ${g.other} other collections (${(g.otherUs / 1000).toFixed(1)} ms), `
          + `GC ${((g.scavengeUs + g.otherUs) / answered).toFixed(3)} µs per round trip\n`,
        );
      }
      if (a) {
        process.stdout.write(`  sampled allocation: ${(a.totalBytes / answered).toFixed(0)} bytes per round trip; top sites:\n`);
        for (const x of a.sites) process.stdout.write(`  ${(100 * x.share).toFixed(1).padStart(5)}% ${(x.bytes / answered).toFixed(1).padStart(6)} B/rt  ${x.site}\n`);
      }
    }
    const sorted = [...perRt].sort((a, b) => a - b);
    process.stdout.write(`median ${quantile(sorted, 0.5).toFixed(3)} µs per round trip (range ${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)})\n`);
  } finally {
    await Promise.all([daemon?.stop(), relayChild?.stop()]);
    scratch.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
