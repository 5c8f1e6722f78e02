/**
 * RSS of `iotsocket start` with the shipped config (config/concentrator.yaml), as a sysadmin
 * starts it: a scratch directory holds a copy of config/, the ports come from the environment
 * (0: any free one), the first start of the directory bootstraps (the central key, the
 * development certificate) and is not measured. Read from /proc once the daemon says it is
 * listening and has been idle `settleMs`.
 */
import { spawn } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
/** The repository: two levels up from bench/lib, three from dist/bench/lib. */
const ROOT = resolve(dirname(HERE), HERE.endsWith('.ts') ? '../..' : '../../..');
const BIN = join(ROOT, 'bin', 'iotsocket.js');
const LISTENING = /"msg":"listening: /;

/** Copies the shipped config into `dir` (relative paths in it resolve against the directory the daemon starts in). */
export function prepareStartDir(dir: string): void {
  cpSync(join(ROOT, 'config'), join(dir, 'config'), { recursive: true });
}

/** Starts the daemon in `dir`, waits for its "listening" line, reads its RSS `settleMs` later (bytes), stops it. */
export async function startRss(dir: string, settleMs: number, timeoutMs = 30_000): Promise<number> {
  const env = { ...process.env, IOTSOCKET_TCP__PORT: '0', IOTSOCKET_UDP__PORT: '0', IOTSOCKET_HTTP__PORT: '0' };
  const child = spawn(process.execPath, [BIN, 'start', '-c', 'config/concentrator.yaml', '--no-pretty'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let out = '';
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no "listening" line within ${timeoutMs} ms: ${out.slice(-500)}`)), timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString('utf8');
        if (!LISTENING.test(out)) return;
        clearTimeout(timer);
        res();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => { clearTimeout(timer); rej(new Error(`daemon exited (${code}) before listening: ${out.slice(-500)}`)); });
    });
    await new Promise((r) => setTimeout(r, settleMs));
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (!m) throw new Error('no VmRSS in /proc');
    return Number(m[1]) * 1024;
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
}
