/**
 * A real redis-server for the cluster scenarios: Debian's binary, started by the bench on a
 * free loopback port in a scratch directory, with AOF on as an operator would run it
 * (`appendfsync everysec`, Redis's default with AOF: up to 1 s of writes lost on a crash).
 * The bench reads its counters (INFO commandstats, used_memory) on a connection of its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { scratchDir } from './scenario.js';

/** Calls per command since the server started (INFO commandstats), by command name. */
export type CommandCalls = ReadonlyMap<string, number>;

export const BENCH_APPENDFSYNC = 'everysec';

export class BenchRedis {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #client: Redis;
  readonly #cleanup: () => void;

  private constructor(port: number, child: ChildProcess, client: Redis, cleanup: () => void) {
    this.port = port;
    this.#child = child;
    this.#client = client;
    this.#cleanup = cleanup;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server and waits (at most 10 s) until it answers PING. Fails, saying how to install it, without the binary. */
  static async start(name: string): Promise<BenchRedis> {
    const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (which.error) throw new Error('redis-server is not installed: apt-get install -y redis-server');
    const scratch = scratchDir(`${name}-redis`);
    const port = await freePort();
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', scratch.dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', BENCH_APPENDFSYNC, '--protected-mode', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    // If the bench itself ends abruptly, the server does not outlive it.
    const orphan = () => child.kill('SIGKILL');
    process.once('exit', orphan);
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50, connectionName: 'bench-stats' });
    client.on('error', () => {});
    const cleanup = () => {
      process.off('exit', orphan);
      scratch.cleanup();
    };
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) {
        cleanup();
        throw new Error(`redis-server exited at start: ${stderr.trim()}`);
      }
      try {
        if (client.status === 'wait') await client.connect();
        if ((await client.ping()) === 'PONG') break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        client.disconnect();
        cleanup();
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return new BenchRedis(port, child, client, cleanup);
  }

  /** Calls per command (INFO commandstats), without the bench's own INFO calls. */
  async commandCalls(): Promise<CommandCalls> {
    const text = await this.#client.info('commandstats');
    const calls = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (m[1] !== 'info') calls.set(m[1]!, Number(m[2]));
    }
    return calls;
  }

  /** used_memory (bytes) from INFO memory. */
  async usedMemory(): Promise<number> {
    const m = /^used_memory:(\d+)/m.exec(await this.#client.info('memory'));
    return m ? Number(m[1]) : NaN;
  }

  /** Keys in the current database (DBSIZE): what the cluster left in Redis. */
  dbSize(): Promise<number> {
    return this.#client.dbsize();
  }

  async stop(): Promise<void> {
    this.#client.disconnect();
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    this.#cleanup();
  }
}

/** The calls made between two readings, by command, and their sum. */
export function callsBetween(before: CommandCalls, after: CommandCalls): { total: number; byCommand: Map<string, number> } {
  const byCommand = new Map<string, number>();
  let total = 0;
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0);
    if (d <= 0) continue;
    byCommand.set(cmd, d);
    total += d;
  }
  return { total, byCommand };
}

/** "xadd 1.02, pexpire 1.02, …": calls per `per` (round trips, or thousands of them), the largest first. */
export function describeCalls(byCommand: ReadonlyMap<string, number>, per: number, top = 6): string {
  return [...byCommand].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([c, n]) => `${c} ${per > 0 ? (n / per).toPrecision(3) : `${n} calls`}`).join(', ');
}

/** A free loopback TCP port (the tests' RedisServer uses it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs `fn` between two readings of the server's command counters: what it made the cluster send to Redis. */
export async function countCommands<T>(redis: BenchRedis, fn: () => Promise<T>): Promise<{ result: T; total: number; byCommand: Map<string, number> }> {
  const before = await redis.commandCalls();
  const result = await fn();
  return { result, ...callsBetween(before, await redis.commandCalls()) };
}

/** Sums per-command counts over rounds. */
export function sumCalls(rounds: ReadonlyArray<ReadonlyMap<string, number>>): Map<string, number> {
  const sum = new Map<string, number>();
  for (const r of rounds) for (const [c, n] of r) sum.set(c, (sum.get(c) ?? 0) + n);
  return sum;
}
