import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A message between the bench parent and one of its child processes. */
export interface Msg {
  readonly type: string;
  readonly [k: string]: unknown;
}

/**
 * Path of a compiled bench/lib script. When this module runs from its TypeScript source
 * (the tap smoke test), the children still run from dist/ (built by `npm run build`).
 */
export function libScript(name: string): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return join(resolve(dirname(here), '..', '..'), 'dist', 'bench', 'lib', `${name}.js`);
  return join(dirname(here), `${name}.js`);
}

export interface SpawnOptions {
  readonly execArgv?: readonly string[];
  /** Try to raise RLIMIT_NOFILE to this in the spawned shell (falls back to the hard limit). */
  readonly fdLimit?: number;
  readonly name?: string;
}

/** A child Node process with an IPC channel, a message queue and bounded waits. */
export class Child {
  readonly proc: ChildProcess;
  readonly name: string;
  readonly exited: Promise<number | null>;
  readonly #queue: Msg[] = [];
  readonly #waiters: Array<{ type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }> = [];
  #dead: Error | undefined;

  constructor(script: string, payload: unknown, opts: SpawnOptions = {}) {
    this.name = opts.name ?? script;
    const nodeArgs = [...(opts.execArgv ?? []), script, JSON.stringify(payload)];
    const limit = opts.fdLimit ?? 1_048_576;
    // `exec` keeps the IPC descriptor (NODE_CHANNEL_FD) open across the shell. Under the tap smoke
    // test, tap's @tapjs/processinfo adds its --import to the NODE_OPTIONS of whatever is spawned
    // (the shell): the shell puts back this process's own NODE_OPTIONS without it, so the children
    // run as under `npm run bench` (the hook doubles a child's start-up CPU).
    const own = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((o) => o !== '' && !o.includes('@tapjs/processinfo')).join(' ');
    const sh = `NODE_OPTIONS="$BENCH_NODE_OPTIONS"; unset BENCH_NODE_OPTIONS; [ -n "$NODE_OPTIONS" ] || unset NODE_OPTIONS; `
      + `ulimit -n ${limit} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
    this.proc = spawn('bash', ['-c', sh, process.execPath, ...nodeArgs], { env: { ...process.env, BENCH_NODE_OPTIONS: own }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: Msg) => this.#onMessage(m));
    this.exited = new Promise((res) => this.proc.once('exit', (code) => {
      this.#dead = new Error(`${this.name} exited with code ${code}`);
      for (const w of this.#waiters.splice(0)) w.reject(this.#dead);
      res(code);
    }));
  }

  send(msg: Msg): void {
    // With a callback, a child exiting as we send (EPIPE) is not an unhandled 'error' event that
    // kills the bench (seen in peers' idle phase); its exit is reported through `exited` anyway.
    if (this.proc.connected) this.proc.send(msg, () => {});
  }

  /** The next message of `type` (queued ones first); rejects on a child 'error' message, exit or timeout. */
  next<T = Msg>(type: string, timeoutMs: number): Promise<T> {
    const i = this.#queue.findIndex((m) => m.type === type || m.type === 'error');
    if (i >= 0) {
      const m = this.#queue.splice(i, 1)[0]!;
      return m.type === 'error' ? Promise.reject(new Error(`${this.name}: ${String(m.message)}`)) : Promise.resolve(m as unknown as T);
    }
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const k = this.#waiters.indexOf(w);
        if (k >= 0) this.#waiters.splice(k, 1);
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        type,
        resolve: (m: Msg) => { clearTimeout(timer); resolve(m as unknown as T); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.#waiters.push(w);
    });
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  #onMessage(m: Msg): void {
    const i = this.#waiters.findIndex((w) => w.type === m.type || m.type === 'error');
    if (i < 0) {
      this.#queue.push(m);
      return;
    }
    const w = this.#waiters.splice(i, 1)[0]!;
    if (m.type === 'error') w.reject(new Error(`${this.name}: ${String(m.message)}`));
    else w.resolve(m);
  }
}

/** Child side: the JSON payload given on argv. */
export function childPayload<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** Child side: send a message to the parent (no-op without IPC). */
export function toParent(msg: Msg): void {
  process.send?.(msg);
}

/** Child side: report an error and exit non-zero. */
export function failChild(err: unknown): never {
  toParent({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
  throw err;
}

/** Child side: the soft RLIMIT_NOFILE, read from /proc (Node has no getrlimit). */
export async function fdLimit(): Promise<number> {
  try {
    const { readFile } = await import('node:fs/promises');
    const m = /Max open files\s+(\d+)/.exec(await readFile('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Child side: exit when the parent goes away, and in any case after `maxMs` (every load loop is time-bounded). */
export function lifeline(maxMs: number): void {
  process.on('disconnect', () => process.exit(process.exitCode ?? 0));
  setTimeout(() => {
    toParent({ type: 'error', message: `hard time limit of ${maxMs} ms reached` });
    setTimeout(() => process.exit(2), 100).unref();
  }, maxMs).unref();
}

/** An HTTP child's life: listen on 127.0.0.1:0, hand the parent's messages to `onMessage`, close on 'stop', report ready. */
export async function serveHttpChild(server: Server, onMessage: (m: Msg) => void): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (m: Msg) => {
    if (m.type !== 'stop') return onMessage(m);
    server.closeAllConnections();
    server.close(() => {
      process.disconnect?.();
      process.exit(0);
    });
  });
  toParent({ type: 'ready', port: (server.address() as AddressInfo).port });
}
