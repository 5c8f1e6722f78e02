/**
 * `node dist/bench/tools/c-load.js [N] [ROUNDS] [tls]`: N object sessions (default 19 000), plain or
 * TLS, opened by handshake-load.c (built here with `gcc -O2 … -lssl -lcrypto`; needs gcc
 * and libssl-dev)
 * against a fresh daemon child per round: the daemon's CPU per handshake (/proc/<pid>/stat),
 * the C load's (getrusage) and the rate. An experiment beside the `handshakes` scenario, whose
 * Node load costs more CPU per handshake than the daemon (bench/README.md, "handshakes").
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import { scratchDir } from '../lib/scenario.js';

const n = Number(process.argv[2] ?? 19_000);
const rounds = Number(process.argv[3] ?? 3);
const tls = process.argv[4] === 'tls';
/** utime + stime of a process, µs (clock ticks of 10 ms). */
const cpuOf = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 1e4;
};

async function main(): Promise<void> {
  const repo = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
  const scratch = scratchDir('c-load');
  const bin = join(scratch.dir, 'handshake-load');
  execFileSync('gcc', ['-O2', '-o', bin, join(repo, 'bench', 'tools', 'handshake-load.c'), '-lssl', '-lcrypto'], { stdio: 'inherit' });
  const certs = tls ? await generateSelfSigned({ commonName: 'localhost', days: 2 }) : undefined;
  try {
    for (let r = 0; r < rounds; r++) {
      const d = await startDaemonProcess(benchConfig({ dir: scratch.dir, objects: n, tls: certs }));
      const cpu0 = cpuOf(d.pid);
      const load = spawn(bin, [String(d.port), '0', String(n), tls ? '64' : '128', ...(tls ? ['tls'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error('no result from the C load within 120 s')), 120_000);
        load.stdout!.once('data', (b: Buffer) => { clearTimeout(timer); res(b.toString().trim()); });
      });
      const cpu1 = cpuOf(d.pid);
      const m = Object.fromEntries([...line.matchAll(/(\w+) (\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
      const opened = m.opened ?? 0;
      process.stdout.write(`${tls ? 'tls' : 'plain'} round ${r + 1}: ${opened}/${n} opened, ${m.failed} failed, ${Math.round((opened / (m.ms ?? 1)) * 1000)}/s; `
        + `CPU per handshake: daemon ${((cpu1 - cpu0) / opened).toFixed(0)} µs, load ${((m.cpu_us ?? 0) / opened).toFixed(0)} µs\n`);
      load.kill();
      await d.stop();
    }
  } finally {
    scratch.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
