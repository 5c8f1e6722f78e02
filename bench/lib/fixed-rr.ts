/**
 * `node dist/bench/lib/fixed-rr.js [--requests N] [--in-flight K] [--rounds R] [--cpu-prof DIR] [--relay]`:
 * a fixed, bounded tcp-rr load (N round trips, K in flight per object, 10 objects, 32-byte
 * payloads) against one daemon child, and the daemon's own CPU (process.cpuUsage, user +
 * system) over it, divided by the round trips answered. Independent of how loaded the machine
 * is, unlike round trips/s: the figure to compare before and after a change (issue 14).
 * `--relay` measures the byte relay's CPU (from /proc, 10 ms ticks) the same way.
 */
import { Child, libScript } from './child.js';
import { benchConfig } from './config.js';
import { startDaemonProcess } from './daemon-process.js';
import { procCpuSplitMicros } from './proc-stat.js';
import { rrRound } from './rr.js';
import { scratchDir } from './scenario.js';
import { quantile } from './stats.js';

function arg(name: string, dflt: string | undefined): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
}

async function main(): Promise<void> {
  const requests = Number(arg('--requests', '200000'));
  const inFlight = Number(arg('--in-flight', '32'));
  const rounds = Number(arg('--rounds', '3'));
  const cpuProfDir = arg('--cpu-prof', undefined);
  const relay = process.argv.includes('--relay');
  const objects = 10;
  const payloadBytes = 32;
  const scratch = scratchDir('fixed-rr');
  const daemon = relay ? undefined : await startDaemonProcess(benchConfig({ dir: scratch.dir, objects }), { cpuProfDir });
  const relayChild = relay ? new Child(libScript('relay-main'), { payloadBytes }, { name: 'relay' }) : undefined;
  const relayReady = relayChild ? await relayChild.next<{ type: 'ready'; port: number; pid?: number }>('ready', 20_000) : undefined;
  /** [user, system] µs. */
  const cpu = async (): Promise<[number, number]> => {
    if (daemon) {
      const u = await daemon.cpu();
      return [u.user, u.system];
    }
    return procCpuSplitMicros(relayChild!.proc.pid!);
  };
  const perRt: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const c0 = await cpu();
      const res = await rrRound({
        mode: relay ? 'relay' : 'daemon', port: daemon?.port ?? relayReady!.port, objects, inFlight, payloadBytes,
        warmupMs: 0, measureMs: 600_000, maxRequests: requests, objectProcs: 1,
      });
      const c1 = await cpu();
      const user = c1[0] - c0[0];
      const system = c1[1] - c0[1];
      const answered = res.sent - res.outstandingAtEnd;
      perRt.push((user + system) / answered);
      process.stdout.write(
        `round ${r}: ${answered} answered, errors ${res.errors}, ${((user + system) / answered).toFixed(3)} µs CPU per round trip `
        + `(user ${(user / answered).toFixed(3)}, system ${(system / answered).toFixed(3)}), p50 ${res.p50.toFixed(3)} p99 ${res.p99.toFixed(3)} ms\n`,
      );
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
