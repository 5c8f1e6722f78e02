/**
 * The concentrator as a sysadmin runs it: `node bin/iotsocket.js start -c <yaml> [--workers N]`,
 * its JSON log lines read from stdout (the ready line, the workers' pids, where each session
 * landed), its CPU read from /proc for the primary and every worker.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_ACCEPT_PER_SEC, BENCH_CENTRAL_KEY, BENCH_GROUP, benchConfig } from './config.js';

/** bin/iotsocket.js, from bench/lib (tap) or dist/bench/lib (npm run bench); it runs dist/ either way. */
function cliBin(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(resolve(here, ...(import.meta.url.endsWith('.ts') ? ['..', '..'] : ['..', '..', '..'])), 'bin', 'iotsocket.js');
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU of `pid` so far, in µs (/proc/<pid>/stat fields 14 and 15); 0 once it is gone. */
function procCpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Sessions started at one node. */
export interface Placed {
  objects: number;
  central: number;
}

export interface CliDaemonOptions {
  readonly dir: string;
  readonly objects: number;
  readonly redis: string;
  /** Its own cluster on the shared Redis. */
  readonly keyPrefix: string;
  readonly nodeId: string;
  /** `--workers N`; absent: the plain one-process `start`. */
  readonly workers?: number;
  /** NODE_CLUSTER_SCHED_POLICY for the primary: 'rr' (node's default on Linux) or 'none'. */
  readonly scheduling?: 'rr' | 'none';
}

export class CliDaemon {
  readonly port: number;
  readonly #proc: ChildProcess;
  readonly #pids: number[];
  /** Sessions started so far, by the worker's node id (the plain start: its own id), objects and central apart. */
  readonly placed: ReadonlyMap<string, Placed>;

  private constructor(proc: ChildProcess, port: number, pids: number[], placed: ReadonlyMap<string, Placed>) {
    this.#proc = proc;
    this.port = port;
    this.#pids = pids;
    this.placed = placed;
  }

  /** Writes the config and ACL into `o.dir`, starts, waits (60 s at most: a loaded machine) for the ready line. */
  static async start(o: CliDaemonOptions): Promise<CliDaemon> {
    benchConfig({ dir: o.dir, objects: o.objects }); // writes acl.json
    writeFileSync(join(o.dir, 'c.yaml'), yaml(o));
    const own = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((x) => x !== '' && !x.includes('@tapjs/processinfo')).join(' ');
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: own, ...(o.scheduling && { NODE_CLUSTER_SCHED_POLICY: o.scheduling }) };
    if (own === '') delete env.NODE_OPTIONS;
    const args = [cliBin(), 'start', '-c', 'c.yaml', ...(o.workers ? ['--workers', String(o.workers)] : [])];
    const proc = spawn(process.execPath, args, { cwd: o.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    const pids: number[] = [proc.pid!];
    const workerNode = new Map<number, string>();
    const placed = new Map<string, Placed>();
    const onLine = (l: Record<string, unknown>) => {
      if (l.event === 'worker-ready') {
        pids.push(l.pid as number);
        workerNode.set(l.worker as number, l.node as string);
      }
      if (l.event === 'session-started') {
        const node = l.worker === undefined ? o.nodeId : (workerNode.get(l.worker as number) ?? `worker ${String(l.worker)}`);
        const p = placed.get(node) ?? { objects: 0, central: 0 };
        if (l.kind === 'central') p.central++;
        else p.objects++;
        placed.set(node, p);
      }
    };
    const port = await new Promise<number>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`iotsocket start (${args.slice(2).join(' ')}): no ready line within 60 s: ${stderr}`)), 60_000);
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`iotsocket start exited (${code}) before it listened: ${stderr}`)); });
      createInterface({ input: proc.stdout! }).on('line', (text) => {
        let l: Record<string, unknown>;
        try {
          l = JSON.parse(text) as Record<string, unknown>;
        } catch {
          return;
        }
        onLine(l);
        const ready = o.workers ? l.event === 'workers-ready' : typeof l.msg === 'string' && l.msg.startsWith('listening');
        if (ready) {
          clearTimeout(timer);
          resolveReady((l.tcp as { port: number }).port);
        }
      });
    });
    proc.removeAllListeners('exit');
    return new CliDaemon(proc, port, pids, placed);
  }

  /** The primary and its workers (the plain start: one pid), for the round's report. */
  get pids(): readonly number[] {
    return this.#pids;
  }

  /** CPU (user + system) of every process of this daemon so far, in µs. Workers restarted meanwhile would be missed: none are here. */
  cpuMicros(): number {
    return this.cpuByProcess().reduce((n, c) => n + c, 0);
  }

  /** CPU so far per process, in µs, in the order of `pids` (the primary first). */
  cpuByProcess(): number[] {
    return this.#pids.map(procCpuMicros);
  }

  /** SIGTERM and wait (SIGKILL after 20 s). */
  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const exited = new Promise((r) => this.#proc.once('exit', r));
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

function yaml(o: CliDaemonOptions): string {
  return [
    'keepSessionSec: 5',
    'tcp: { host: 127.0.0.1, port: 0, requestTimeoutSec: 30, handshakeTimeoutSec: 10, maxConnections: 5000 }',
    'udp: { enabled: false }',
    'http: { enabled: false }',
    `central: { authKey: ${BENCH_CENTRAL_KEY.toString('hex')} }`,
    `groups: { ${BENCH_GROUP}: {} }`,
    'acl: { file: acl.json }',
    'buffers: { maxPerSession: 1000, maxBytesPerSession: 1048576, maxTotalBytes: 268435456 }',
    `limits: { maxRequestsInFlightPerObject: 1024, maxRequestsInFlightPerTarget: 1024, writeBufferBytes: 4194304, acceptPerSec: ${BENCH_ACCEPT_PER_SEC} }`,
    'log: { level: info }',
    'cluster:',
    `  redis: ${JSON.stringify(o.redis)}`,
    `  nodeId: ${o.nodeId}`,
    `  keyPrefix: ${JSON.stringify(o.keyPrefix)}`,
    '',
  ].join('\n');
}
