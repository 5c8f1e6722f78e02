import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from '../../bench/lib/redis-server.js';

/**
 * A real redis-server (Debian's package) for one test, on a free loopback port in a temporary
 * folder, AOF on (`appendfsync always`: a restart keeps what was acknowledged). It can be stopped
 * and started again on the same port and folder (Redis restarts under traffic). Without the binary
 * the test fails and says how to install it: it never skips silently.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  /** `requirepass`: clients must AUTH with it (tests of a refused password). */
  readonly password: string | undefined;
  /** PEM files: the server speaks only TLS (rediss://), with this certificate. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, opts: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.password = opts.password;
    this.tls = opts.tls;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  static async start(t: { teardown(fn: () => unknown): void }, opts: RedisServerOptions = {}): Promise<RedisServer> {
    const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (which.error) throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run installs it)');
    const dir = mkdtempSync(join(tmpdir(), 'iots-redis-'));
    const server = new RedisServer(await freePort(), dir, opts);
    t.teardown(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await server.resume();
    return server;
  }

  /** Starts (again) on the same port and folder, and waits until it answers PING. */
  async resume(): Promise<void> {
    if (this.#child) return;
    const listen = this.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.tls.certFile, '--tls-key-file', this.tls.keyFile, '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    const child = spawn('redis-server', [
      ...listen, '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no', '--loglevel', 'warning',
      ...(this.password !== undefined ? ['--requirepass', this.password] : []),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.once('exit', () => { if (this.#child === child) this.#child = undefined; });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!this.#child) throw new Error(`redis-server exited at start: ${stderr.trim()}`);
      if (await pings(this.#options())) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the server (SIGKILL: what a crash does; AOF fsync-always keeps every acknowledged write). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * Freezes the server (SIGSTOP): connections stay open, commands wait unanswered, as a Redis
   * that hangs; `unpause` (SIGCONT) lets it process them, in order. A stopped server is resumed at teardown's stop.
   */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  unpause(): void {
    this.#child?.kill('SIGCONT');
  }

  /** A client for the test's own reads and setup; closed at teardown. */
  client(t: { teardown(fn: () => unknown): void }): Redis {
    const c = new Redis({ ...this.#options(), lazyConnect: false, maxRetriesPerRequest: 1 });
    t.teardown(() => c.disconnect());
    return c;
  }

  #options(): RedisOptions {
    return { host: '127.0.0.1', port: this.port, password: this.password, ...(this.tls ? { tls: { rejectUnauthorized: false } } : {}) };
  }
}

export interface RedisServerOptions {
  readonly password?: string;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

async function pings(options: RedisOptions): Promise<boolean> {
  const c = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}
